-- Daily revenue per store, with its country, in local currency and USD.
SELECT
    s.sale_date,
    d.country,
    s.store_id,
    d.store_name,
    SUM(s.transactions) AS transactions,
    SUM(s.gross_local) AS gross_local,
    SUM(s.gross_usd) AS gross_usd
FROM marts.sales_by_store AS s
INNER JOIN marts.dim_store AS d ON s.store_id = d.store_id
GROUP BY s.sale_date, d.country, s.store_id, d.store_name
ORDER BY s.sale_date, d.country, s.store_id;
