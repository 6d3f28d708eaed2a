-- The shopping funnel per campaign, read through Spectrum from gold:
-- sessions at each step and their share of the campaign's visits.
WITH steps AS (
    SELECT
        utm_campaign,
        step_number,
        step,
        SUM(sessions) AS sessions
    FROM gold_ext.conversion_rates
    GROUP BY utm_campaign, step_number, step
)

SELECT
    utm_campaign,
    step_number,
    step,
    sessions,
    sessions::DOUBLE PRECISION
    / MAX(CASE WHEN step_number = 1 THEN sessions END)
        OVER (PARTITION BY utm_campaign)
        AS conversion_from_visit
FROM steps
ORDER BY utm_campaign, step_number;
