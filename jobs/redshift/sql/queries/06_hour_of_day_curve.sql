-- The day's curve in UTC hours: page views, sales and revenue.
WITH sales AS (
    SELECT
        EXTRACT(HOUR FROM ts) AS hour_utc,
        COUNT(DISTINCT transaction_id) AS transactions,
        SUM(line_amount_usd) AS revenue_usd
    FROM marts.fct_sales
    GROUP BY EXTRACT(HOUR FROM ts)
),

clicks AS (
    SELECT
        activity_hour AS hour_utc,
        SUM(clicks) AS clicks
    FROM marts.fct_clicks_agg
    GROUP BY activity_hour
)

SELECT
    COALESCE(s.hour_utc, c.hour_utc) AS hour_utc,
    COALESCE(c.clicks, 0) AS clicks,
    COALESCE(s.transactions, 0) AS transactions,
    COALESCE(s.revenue_usd, 0) AS revenue_usd
FROM sales AS s
FULL OUTER JOIN clicks AS c ON s.hour_utc = c.hour_utc
ORDER BY hour_utc;
