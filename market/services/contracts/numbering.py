"""登记编号 = year + 6-digit region code of the registering locality (the seller's; the buyer's when
the seller is abroad) + a 6-digit serial that is gapless per (region, year): the serial comes from
a counter row that is incremented (UPDATE … RETURNING) inside the registering transaction, so the
row stays locked until commit and a rollback gives the number back."""

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...extensions import db
from ...models import ContractCounter
from .access import NotAllowed


def allocate_number(region: str, year: int) -> str:
    """The next 登记编号 of (region, year). The counter row stays locked until the transaction ends,
    so concurrent registrations queue behind each other and a rollback returns the serial."""
    counter = ContractCounter.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(
            pg_insert(counter)
            .values(region=region, year=year, last=0)
            .on_conflict_do_nothing(index_elements=["region", "year"])
        )
    elif dialect == "sqlite":
        db.session.execute(sqlite_insert(counter).values(region=region, year=year, last=0).on_conflict_do_nothing())
    else:
        exists = db.session.execute(
            select(counter.c.last).where(counter.c.region == region, counter.c.year == year).with_for_update()
        ).first()
        if exists is None:
            db.session.execute(counter.insert().values(region=region, year=year, last=0))
    serial = db.session.execute(
        update(counter)
        .where(counter.c.region == region, counter.c.year == year)
        .values(last=counter.c.last + 1)
        .returning(counter.c.last)
    ).scalar_one()
    if serial > 999999:
        raise NotAllowed(f"{region} 地区 {year} 年的登记编号已用完")
    return f"{year:04d}{region}{serial:06d}"
