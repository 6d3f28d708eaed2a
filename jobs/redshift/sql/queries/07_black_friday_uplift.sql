-- Black Friday (the day after the fourth Thursday of November) against
-- the mean of the seven days before it, for each year in the marts.
WITH daily AS (
    SELECT
        sale_date,
        SUM(gross_usd) AS revenue_usd
    FROM marts.sales_by_store
    GROUP BY sale_date
),

november AS (
    SELECT DISTINCT DATEADD(MONTH, 10, DATE_TRUNC('year', sale_date))::DATE AS nov1
    FROM daily
),

black_fridays AS (
    -- DATE_PART(dow) is 0 on Sunday: the first Thursday is (11 - dow) % 7
    -- days after November 1st, Black Friday 22 days after that.
    SELECT DATEADD(DAY, MOD(11 - DATE_PART(DOW, nov1)::INTEGER, 7) + 22, nov1)::DATE AS black_friday
    FROM november
)

SELECT
    bf.black_friday,
    d.revenue_usd AS black_friday_revenue_usd,
    AVG(p.revenue_usd) AS prior_week_daily_revenue_usd,
    d.revenue_usd / AVG(p.revenue_usd) AS uplift
FROM black_fridays AS bf
INNER JOIN daily AS d ON bf.black_friday = d.sale_date
LEFT JOIN daily AS p
    ON p.sale_date BETWEEN DATEADD(DAY, -7, bf.black_friday) AND DATEADD(DAY, -1, bf.black_friday)
GROUP BY bf.black_friday, d.revenue_usd
ORDER BY bf.black_friday;
