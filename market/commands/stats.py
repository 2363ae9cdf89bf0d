"""`market stats`: 技术合同成交 totals by 登记日期."""

from datetime import date

import click
from flask.cli import with_appcontext


@click.command("stats")
@click.option("--year", type=int, default=None, help="one calendar year (default: the last 12 months and every year)")
@with_appcontext
def stats(year):
    """技术合同成交: count, 成交额 and 技术交易额 of registered contracts, by 登记日期."""
    from ..services import stats as contract_stats

    periods = (
        [contract_stats.Period.year(year)]
        if year
        else [
            contract_stats.Period.last_months(12, date.today()),
            *(contract_stats.Period.year(y) for y in contract_stats.years_with_data()),
        ]
    )
    for p in periods:
        t = contract_stats.totals(p)
        click.echo(f"{p.label}\t{t.count} 项\t成交额 {t.amount:,.2f} 元\t技术交易额 {t.tech_amount:,.2f} 元")
