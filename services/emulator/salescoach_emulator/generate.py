"""A realistic, deterministic demo org written as a Salesforce-export CSV folder.

Reps differ in skill (win rate, deal size, activity volume, how early they lose), so
scorecards differ. Rows are written straight to CSV from tuples: 1M Tasks take seconds.
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog

from salescoach_emulator.ids import KEY_PREFIXES, make_id

log = structlog.get_logger(__name__)

# (ApiName, SortOrder, IsClosed, IsWon, DefaultProbability, ForecastCategoryName)
STAGES: tuple[tuple[str, int, bool, bool, int, str], ...] = (
    ("Prospecting", 1, False, False, 10, "Pipeline"),
    ("Qualification", 2, False, False, 10, "Pipeline"),
    ("Needs Analysis", 3, False, False, 20, "Pipeline"),
    ("Value Proposition", 4, False, False, 50, "Pipeline"),
    ("Id. Decision Makers", 5, False, False, 60, "Pipeline"),
    ("Perception Analysis", 6, False, False, 70, "Pipeline"),
    ("Proposal/Price Quote", 7, False, False, 75, "Pipeline"),
    ("Negotiation/Review", 8, False, False, 90, "Commit"),
    ("Closed Won", 9, True, True, 100, "Closed"),
    ("Closed Lost", 10, True, False, 0, "Omitted"),
)
OPEN_STAGES = STAGES[:8]

_FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kai",
    "Leah",
    "Max",
    "Nina",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vic",
    "Will",
    "Xena",
    "Yara",
    "Zack",
    "Amir",
    "Bea",
    "Cruz",
    "Dina",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jade",
]
_LAST = [
    "Adams",
    "Brown",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Meyer",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Young",
    "Zimmer",
]
_COMPANY_A = [
    "Acme",
    "Apex",
    "Blue",
    "Bright",
    "Cedar",
    "Delta",
    "Echo",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron",
    "Juniper",
]
_COMPANY_B = [
    "Labs",
    "Systems",
    "Foods",
    "Logistics",
    "Health",
    "Energy",
    "Retail",
    "Bank",
    "Media",
    "Works",
    "Motors",
]
_INDUSTRIES = ("Technology", "Manufacturing", "Healthcare", "Retail", "Finance", "Energy")
_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
_SUBJECTS = {"Call": "Call", "Email": "Email: follow-up", "Task": "Send proposal"}
_OPP_TYPES = ("New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement")

COMMON = ("IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")


USER_HEADER = (
    "Id", "Username", "FirstName", "LastName", "Name", "Alias", "Email", "IsActive",
    "ManagerId", "UserRoleId", "Title", "TimeZoneSidKey", *COMMON,
)  # fmt: skip
STAGE_HEADER = (
    "Id", "ApiName", "MasterLabel", "SortOrder", "IsActive", "IsClosed", "IsWon",
    "DefaultProbability", "ForecastCategoryName", *COMMON,
)  # fmt: skip
ACCOUNT_HEADER = (
    "Id", "Name", "OwnerId", "Type", "Industry", "BillingCountry", "AnnualRevenue",
    "NumberOfEmployees", *COMMON,
)  # fmt: skip
CONTACT_HEADER = (
    "Id", "AccountId", "FirstName", "LastName", "Name", "Email", "Title", "Phone", "OwnerId", *COMMON,
)  # fmt: skip
OPPORTUNITY_HEADER = (
    "Id", "OwnerId", "Name", "AccountId", "Amount", "StageName", "IsClosed", "IsWon",
    "CloseDate", "Probability", "ForecastCategoryName", "Type", "LeadSource", *COMMON,
)  # fmt: skip
HISTORY_HEADER = (
    "Id", "OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "ForecastCategory", *COMMON,
)  # fmt: skip
TASK_HEADER = (
    "Id", "OwnerId", "WhatId", "WhoId", "Subject", "Status", "Priority", "IsClosed",
    "ActivityDate", "TaskSubtype", "Type", "CallDurationInSeconds", "CallType",
    "CompletedDateTime", "IsArchived", "Salescoach_Id__c", *COMMON,
)  # fmt: skip
EVENT_HEADER = (
    "Id", "OwnerId", "WhatId", "WhoId", "Subject", "StartDateTime", "EndDateTime",
    "ActivityDate", "ActivityDateTime", "DurationInMinutes", "Type", "IsArchived", *COMMON,
)  # fmt: skip
# Salescoach_Id__c is the write-back key: declare it so describe marks it an external id.
FIELDS = {
    "Task": {
        "Salescoach_Id__c": {
            "type": "string",
            "externalId": True,
            "unique": True,
            "length": 64,
            "label": "Salescoach Id",
        }
    }
}
DAY_S = 86400.0
# A rep's average deal starts a month, the default of `generate_org`.
OPPORTUNITIES_PER_REP_MONTH = 6.5
# Activity history reaches further back than the pipeline, past the one-year archive line.
ACTIVITY_LEAD_DAYS = 45

Row = tuple[object, ...]


@dataclass(frozen=True)
class GenerateResult:
    out_dir: Path
    counts: dict[str, int]
    seconds: float


def _ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _b(value: bool) -> str:
    return "true" if value else "false"


class _Ids:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def new(self, object_name: str) -> str:
        number = self.counters.get(object_name, 0) + 1
        self.counters[object_name] = number
        return make_id(KEY_PREFIXES[object_name], number)


@dataclass(frozen=True)
class _Calendar:
    """The org's time span; everything happens before the end day starts, so no timestamp
    lies in the future."""

    end: date
    start_day: date
    end_epoch: float
    start_epoch: float

    @classmethod
    def of(cls, end: date, months: int) -> _Calendar:
        start_day = end - timedelta(days=months * 30)
        return cls(end, start_day, _midnight(end), _midnight(start_day))

    @property
    def total_days(self) -> int:
        return (self.end - self.start_day).days

    @property
    def recent_epoch(self) -> float:
        """Records deleted in the last days sit in the recycle bin, visible to queryAll/getDeleted:
        deletes land in [end-5d, end-1d)."""
        return self.end_epoch - 5 * DAY_S

    @property
    def created(self) -> str:
        """When the accounts and contacts were created, before any opportunity."""
        return _ts(self.start_epoch - 400 * DAY_S)


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class _ActivityDays:
    """The days activities fall on: the span plus a lead before it and two weeks after."""

    start_epoch: float
    count: int
    days: list[str]
    weeks: int
    archive_before: str

    @classmethod
    def of(cls, cal: _Calendar) -> _ActivityDays:
        first = cal.start_day - timedelta(days=ACTIVITY_LEAD_DAYS)
        count = cal.total_days + ACTIVITY_LEAD_DAYS
        return cls(
            start_epoch=cal.start_epoch - ACTIVITY_LEAD_DAYS * DAY_S,
            count=count,
            days=[(first + timedelta(days=i)).isoformat() for i in range(count + 14)],
            weeks=max(1, cal.total_days // 7),
            archive_before=(cal.end - timedelta(days=365)).isoformat(),
        )


@dataclass
class _Book:
    """Each rep's skill and what each rep owns, for the rows that refer to them."""

    skill: dict[str, float]
    accounts: dict[str, list[str]] = field(default_factory=dict)
    contacts: dict[str, list[str]] = field(default_factory=dict)  # per account
    opportunities: dict[str, list[str]] = field(default_factory=dict)

    @property
    def reps(self) -> list[str]:
        return list(self.skill)


def _write(out_dir: Path, name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with (out_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _users(
    rng: random.Random, ids: _Ids, cal: _Calendar, *, reps: int, managers: int
) -> tuple[list[Row], list[str]]:
    """VP <- managers <- reps, the last rep inactive; returns the rows and the reps' ids."""
    users: list[Row] = []

    def user(title: str, manager: str, active: bool = True) -> str:
        uid = ids.new("User")
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        alias = (first[:1] + last[:4]).lower()
        mail = f"{first}.{last}.{len(users) + 1}@demo.salescoach.example".lower()
        # Set up a minute apart: distinct stamps, as records written one by one have.
        stamp = _ts(cal.start_epoch - 400 * DAY_S + 60 * len(users))
        users.append(
            (uid, mail, first, last, f"{first} {last}", alias, mail, _b(active), manager, "",
             title, "America/New_York", "false", stamp, "", stamp, "", stamp)
        )  # fmt: skip
        return uid

    vp = user("VP Sales", "")
    manager_ids = [user("Sales Manager", vp) for _ in range(managers)]
    rep_ids = [
        user("Account Executive", manager_ids[i % managers], active=i != reps - 1) for i in range(reps)
    ]
    return users, rep_ids


def _stages(ids: _Ids, cal: _Calendar) -> list[Row]:
    rows: list[Row] = []
    for name, order, closed, won, prob, forecast in STAGES:
        stamp = _ts(cal.start_epoch - 401 * DAY_S + 60 * order)  # one a minute, in sort order
        rows.append(
            (ids.new("OpportunityStage"), name, name, order, "true", _b(closed), _b(won), prob,
             forecast, "false", stamp, "", stamp, "", stamp)
        )  # fmt: skip
    return rows


def _accounts_and_contacts(
    rng: random.Random, ids: _Ids, cal: _Calendar, book: _Book
) -> tuple[list[Row], list[Row]]:
    """Eight accounts a rep, two contacts an account (drawn together: the draws interleave)."""
    accounts: list[Row] = []
    contacts: list[Row] = []
    created = cal.created
    for rid in book.reps:
        book.accounts[rid] = []
        for _ in range(8):
            aid = ids.new("Account")
            name = f"{rng.choice(_COMPANY_A)} {rng.choice(_COMPANY_B)} {len(accounts) + 1}"
            accounts.append(
                (aid, name, rid, "Customer", rng.choice(_INDUSTRIES), "United States",
                 rng.randrange(1, 500) * 100000, rng.randrange(10, 5000), "false", created, "",
                 created, "", created)
            )  # fmt: skip
            book.accounts[rid].append(aid)
            book.contacts[aid] = []
            for _ in range(2):
                cid = ids.new("Contact")
                first, last = rng.choice(_FIRST), rng.choice(_LAST)
                contacts.append(
                    (cid, aid, first, last, f"{first} {last}",
                     f"{first}.{last}@{name.split()[0].lower()}.example".lower(), "Buyer",
                     "", rid, "false", created, "", created, "", created)
                )  # fmt: skip
                book.contacts[aid].append(cid)
    return accounts, contacts


def _opportunities(
    rng: random.Random, ids: _Ids, cal: _Calendar, book: _Book, *, months: int, per_rep_month: float
) -> tuple[list[Row], list[Row]]:
    """Opportunities and one OpportunityHistory row per stage change (drawn together). A rep
    starts `per_rep_month` deals a month on average, 4/6.5 to 9/6.5 of it drawn per rep, times
    0.6-1.2 by skill."""
    opps: list[Row] = []
    history: list[Row] = []
    end_epoch = cal.end_epoch
    prob_of = {st[0]: st[4] for st in STAGES}
    fc_of = {st[0]: st[5] for st in STAGES}
    for rid in book.reps:
        book.opportunities[rid] = []
        s = book.skill[rid]
        starts = round(
            months * rng.uniform(4, 9) * (per_rep_month / OPPORTUNITIES_PER_REP_MONTH) * (0.6 + 0.6 * s)
        )
        for _ in range(starts):
            oid = ids.new("Opportunity")
            created_e = cal.start_epoch + rng.uniform(0, cal.total_days) * DAY_S
            amount = round(rng.lognormvariate(9.6 + 0.8 * s, 0.6), -2)
            amount_text: object = "" if rng.random() < 0.05 else amount
            # How far the deal gets; skilled reps push deals further before losing them.
            reach = min(len(OPEN_STAGES), 1 + int(rng.betavariate(1 + 3 * s, 2.5) * 8))
            elapsed_days = (end_epoch - created_e) / DAY_S
            cycle = rng.uniform(20, 120) * (1.3 - 0.5 * s)
            step = cycle / (reach + 1)
            closed = elapsed_days > cycle + 2
            won = closed and reach >= 6 and rng.random() < 0.25 + 0.55 * s
            t = created_e
            rows_e: list[tuple[str, float]] = []
            for index in range(reach if closed else min(reach, 1 + int(elapsed_days / step))):
                if index and t >= end_epoch - 3600:
                    break
                rows_e.append((OPEN_STAGES[index][0], t))
                t += step * rng.uniform(0.5, 1.5) * DAY_S
            # Stage changes only move forward in time, and never past the end of the data.
            closed = closed and rows_e[-1][1] < end_epoch - 7200
            won = won and closed
            if closed:
                final = "Closed Won" if won else "Closed Lost"
                t = max(rows_e[-1][1] + 3600, min(t, end_epoch - rng.uniform(1, 48) * 3600))
                t = min(t, end_epoch - 60)
                rows_e.append((final, t))
                close_date = time.strftime("%Y-%m-%d", time.gmtime(t))
            else:
                final = rows_e[-1][0]
                close_date = time.strftime(
                    "%Y-%m-%d", time.gmtime(created_e + cycle * DAY_S + rng.uniform(0, 20) * DAY_S)
                )
            stage = next(st for st in STAGES if st[0] == final)
            last_e = rows_e[-1][1]
            deleted = rng.random() < 0.01
            modstamp = _ts(cal.recent_epoch + rng.uniform(0, 4) * DAY_S) if deleted else _ts(last_e)
            account = rng.choice(book.accounts[rid])
            opps.append(
                (oid, rid, f"{account[-6:]} deal {len(opps) + 1}", account, amount_text, final,
                 _b(stage[2]), _b(stage[3]), close_date, stage[4], stage[5],
                 rng.choice(_OPP_TYPES), rng.choice(_LEAD_SOURCES), _b(deleted),
                 _ts(created_e), rid, _ts(last_e), rid, modstamp)
            )  # fmt: skip
            book.opportunities[rid].append(oid)
            for stage_name, when in rows_e:
                stamp = _ts(when)
                history.append(
                    (ids.new("OpportunityHistory"), oid, stage_name, amount_text, close_date,
                     prob_of[stage_name], fc_of[stage_name], _b(deleted), stamp, rid, stamp,
                     rid, stamp)
                )  # fmt: skip
    return opps, history


def _tasks(rng: random.Random, cal: _Calendar, book: _Book, *, per_rep_week: int) -> Iterator[Row]:
    """Calls, emails and to-dos, streamed (a million of them fit in no list)."""
    act = _ActivityDays.of(cal)
    end_epoch, end_day = cal.end_epoch, cal.end.isoformat()
    task_prefix = KEY_PREFIXES["Task"]
    number = 0
    for rid in book.reps:
        s = book.skill[rid]
        n = int(per_rep_week * (0.5 + 0.7 * s) * act.weeks)
        whats = book.opportunities[rid] + book.accounts[rid]
        accts = book.accounts[rid]
        rand = rng.random
        for _ in range(n):
            number += 1
            tid = make_id(task_prefix, number)
            day_index = int(rand() * (act.count + 14))
            activity_date = act.days[day_index]
            base = act.start_epoch + day_index * DAY_S + 8 * 3600
            future = activity_date > end_day
            roll = rand()
            subtype = "Call" if roll < 0.5 else ("Email" if roll < 0.85 else "Task")
            done = not future and rand() < 0.92
            # Tasks dated on the end day are completed before it starts, like everything else,
            # at distinct moments of the twelve hours before (not all at one stamp, which
            # would be the newest and an incremental sync's window would re-read every time).
            completed_e = base + rand() * 9 * 3600
            if completed_e >= end_epoch - 60:
                completed_e = end_epoch - 60 - rand() * 12 * 3600
            created_e = min(base, end_epoch) - (1 + rand() * 3 * 3600) * 60
            deleted = rand() < 0.002
            modstamp = (
                _ts(cal.recent_epoch + rand() * 4 * DAY_S)
                if deleted
                else _ts(completed_e if done else created_e)
            )
            who = book.contacts[accts[int(rand() * len(accts))]][0]
            yield (
                tid, rid, whats[int(rand() * len(whats))], who,
                _SUBJECTS[subtype],
                "Completed" if done else "Not Started", "Normal", _b(done), activity_date,
                subtype, subtype if subtype != "Task" else "Other",
                int(60 + rand() * 900) if subtype == "Call" and done else "",
                "Outbound" if subtype == "Call" else "",
                _ts(completed_e) if done else "", _b(activity_date < act.archive_before), "",
                _b(deleted), _ts(created_e), rid, modstamp, rid, modstamp,
            )  # fmt: skip


def _events(rng: random.Random, cal: _Calendar, book: _Book, *, per_rep_week: int) -> Iterator[Row]:
    """Meetings, an eighth as many as tasks."""
    act = _ActivityDays.of(cal)
    event_prefix = KEY_PREFIXES["Event"]
    number = 0
    for rid in book.reps:
        s = book.skill[rid]
        n = int(per_rep_week / 8 * (0.5 + 0.7 * s) * act.weeks)
        whats = book.opportunities[rid] + book.accounts[rid]
        for _ in range(n):
            number += 1
            day_index = rng.randrange(act.count + 14)
            start_e = act.start_epoch + day_index * DAY_S + rng.randrange(8, 17) * 3600
            minutes = rng.choice((30, 45, 60, 90))
            # Booked two days ahead; a future meeting (up to 14 days out) 16 days ahead, so
            # stamps stay in the past and distinct, as Salesforce's would.
            stamp = _ts(start_e - (2 if start_e <= cal.end_epoch else 16) * DAY_S)
            start_text = _ts(start_e)
            yield (
                make_id(event_prefix, number), rid, rng.choice(whats), "", "Meeting",
                start_text, _ts(start_e + minutes * 60), act.days[day_index], start_text,
                minutes, "Meeting", _b(act.days[day_index] < act.archive_before), "false", stamp,
                rid, stamp, rid, stamp,
            )  # fmt: skip


def generate_org(
    out_dir: Path,
    *,
    reps: int = 24,
    managers: int = 3,
    months: int = 12,
    end: date | None = None,
    seed: int = 1,
    activities_per_rep_week: int = 40,
    opportunities_per_rep_month: float = OPPORTUNITIES_PER_REP_MONTH,
) -> GenerateResult:
    """Write the demo org's CSV files (and ``fields.json``) into ``out_dir``."""
    if reps < 2 or managers < 1 or months < 1:
        raise ValueError("need at least 2 reps, 1 manager and 1 month")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    cal = _Calendar.of(end or datetime.now(UTC).date(), months)
    # One generator drawn in a fixed order: the same seed writes the same files.
    rng = random.Random(seed)  # noqa: S311 - demo data must be reproducible, not secret
    ids = _Ids()
    counts: dict[str, int] = {}

    users, rep_ids = _users(rng, ids, cal, reps=reps, managers=managers)
    # Skill drives win rate, deal size, activity volume and how early deals are lost.
    book = _Book(skill={rid: rng.uniform(0.25, 1.0) for rid in rep_ids})
    counts["User"] = _write(out_dir, "User", USER_HEADER, users)
    counts["OpportunityStage"] = _write(out_dir, "OpportunityStage", STAGE_HEADER, _stages(ids, cal))
    accounts, contacts = _accounts_and_contacts(rng, ids, cal, book)
    counts["Account"] = _write(out_dir, "Account", ACCOUNT_HEADER, accounts)
    counts["Contact"] = _write(out_dir, "Contact", CONTACT_HEADER, contacts)
    opps, history = _opportunities(
        rng, ids, cal, book, months=months, per_rep_month=opportunities_per_rep_month
    )
    counts["Opportunity"] = _write(out_dir, "Opportunity", OPPORTUNITY_HEADER, opps)
    counts["OpportunityHistory"] = _write(out_dir, "OpportunityHistory", HISTORY_HEADER, history)
    per_week = activities_per_rep_week
    counts["Task"] = _write(out_dir, "Task", TASK_HEADER, _tasks(rng, cal, book, per_rep_week=per_week))
    counts["Event"] = _write(out_dir, "Event", EVENT_HEADER, _events(rng, cal, book, per_rep_week=per_week))
    (out_dir / "fields.json").write_text(json.dumps(FIELDS, indent=2) + "\n", encoding="utf-8")
    seconds = time.perf_counter() - started
    log.info("emulator.org_generated", out_dir=str(out_dir), counts=counts, seconds=round(seconds, 2))
    return GenerateResult(out_dir, counts, seconds)
