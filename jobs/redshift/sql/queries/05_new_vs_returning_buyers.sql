-- Signed-in buyers per day: new (first purchase in the marts that day) or
-- returning, with their revenue in USD.
WITH buyers AS (
    SELECT
        user_id,
        sale_date,
        SUM(line_amount_usd) AS revenue_usd
    FROM marts.fct_sales
    WHERE user_id IS NOT NULL
    GROUP BY user_id, sale_date
),

firsts AS (
    SELECT
        user_id,
        MIN(sale_date) AS first_purchase
    FROM buyers
    GROUP BY user_id
)

SELECT
    b.sale_date,
    CASE WHEN b.sale_date = f.first_purchase THEN 'new' ELSE 'returning' END AS buyer_type,
    COUNT(*) AS buyers,
    SUM(b.revenue_usd) AS revenue_usd
FROM buyers AS b
INNER JOIN firsts AS f ON b.user_id = f.user_id
GROUP BY
    b.sale_date,
    CASE WHEN b.sale_date = f.first_purchase THEN 'new' ELSE 'returning' END
ORDER BY b.sale_date, buyer_type;
