-- Spending per category adds up to spending per project, and each category appears once.
with

by_category as (
    select
        project_code,
        sum(spent_amount) as spent_amount,
        count(*) as category_rows,
        count(distinct category) as categories
    from {{ ref('int_spending_aggregated_by_category') }}
    group by project_code
)

select
    by_project.project_code,
    by_project.spent_amount,
    by_category.spent_amount as category_total
from {{ ref('int_spending_aggregated_by_project') }} as by_project
full outer join by_category
    on by_project.project_code is not distinct from by_category.project_code
where
    by_project.spent_amount is distinct from by_category.spent_amount
    or by_category.category_rows != by_category.categories
