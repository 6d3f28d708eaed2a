-- Revenue per day and currency, normalised to USD, with each currency's
-- share of the day.
SELECT
    sale_date,
    currency,
    SUM(gross_local) AS gross_local,
    SUM(gross_usd) AS gross_usd,
    SUM(gross_usd) / SUM(SUM(gross_usd)) OVER (PARTITION BY sale_date) AS share_of_day
FROM marts.sales_by_store
GROUP BY sale_date, currency
ORDER BY sale_date, currency;
