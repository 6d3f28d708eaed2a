-- How many sales have 1, 2, 3… basket lines, per channel.
WITH baskets AS (
    SELECT
        transaction_id,
        channel,
        COUNT(*) AS basket_lines,
        SUM(qty) AS units
    FROM marts.fct_sales
    GROUP BY transaction_id, channel
)

SELECT
    channel,
    basket_lines,
    COUNT(*) AS transactions,
    AVG(units::DOUBLE PRECISION) AS avg_units
FROM baskets
GROUP BY channel, basket_lines
ORDER BY channel, basket_lines;
