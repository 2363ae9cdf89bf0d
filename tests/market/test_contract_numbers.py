"""登记编号 stay unique and gapless under concurrent registrations — on SQLite and on PostgreSQL
(run with TEST_DATABASE_URL). Every thread has its own app context, session and connection."""

import threading
from datetime import date

from sqlalchemy import select

from market.extensions import db
from market.models import Contract, ContractCounter, User
from market.services import contracts
from tests.market.conftest import application


def _pending(people, n: int, series: str = "甲") -> list[int]:
    ids = [
        contracts.submit(
            application(people["buyer"], title=f"并发登记测试合同{series}第{i:02d}号"), people["researcher"]
        ).id
        for i in range(n)
    ]
    db.session.commit()
    return ids


def _race(app, registrar_id: int, ids: list[int]) -> tuple[list[str], list[str]]:
    """Register each id in its own thread, all released at once; (numbers issued, errors)."""
    barrier = threading.Barrier(len(ids))
    issued, errors = [], []

    def work(contract_id):
        barrier.wait()
        with app.app_context():
            try:
                registrar = db.session.get(User, registrar_id)
                contract = db.session.get(Contract, contract_id)
                contracts.register(contract, registrar)
                number = contract.number
                db.session.commit()
                issued.append(number)
            except (contracts.NotAllowed, contracts.Conflict) as e:
                db.session.rollback()
                errors.append(type(e).__name__)
            except Exception as e:  # anything else fails the test below
                db.session.rollback()
                errors.append(repr(e))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a registration hung"
    return issued, errors


def test_fifty_concurrent_registrations_get_fifty_distinct_gapless_numbers(app, people):
    ids = _pending(people, 50)
    issued, errors = _race(app, people["registrar"].id, ids)
    assert errors == []
    year = date.today().year
    expected = [f"{year}410102{i:06d}" for i in range(1, 51)]
    assert sorted(issued) == expected
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Contract.number))) == expected
    assert db.session.get(ContractCounter, ("410102", year)).last == 50


def test_registering_one_application_twice_at_once_issues_one_number(app, people):
    [contract_id] = _pending(people, 1)
    issued, errors = _race(app, people["registrar"].id, [contract_id] * 10)
    assert len(issued) == 1 and len(errors) == 9 and set(errors) <= {"NotAllowed", "Conflict"}
    db.session.expire_all()
    assert db.session.get(ContractCounter, ("410102", date.today().year)).last == 1
    nxt = _pending(people, 1, "乙")
    contracts.register(db.session.get(Contract, nxt[0]), people["registrar"])
    assert db.session.get(Contract, nxt[0]).number.endswith("000002")  # no gap after the lost races
