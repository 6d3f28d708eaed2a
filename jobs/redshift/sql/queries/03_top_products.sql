-- The 20 products with the most revenue in USD.
SELECT
    sku,
    SUM(qty) AS units,
    COUNT(DISTINCT transaction_id) AS transactions,
    SUM(line_amount_usd) AS revenue_usd
FROM marts.fct_sales
GROUP BY sku
ORDER BY revenue_usd DESC, sku ASC
LIMIT 20;
