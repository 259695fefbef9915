"""Complaints, service requests and follow-ups (回访): tasks with an owner, a due date, a result."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import InvalidInput
from domain.interactions import Channel, InteractionKind


class TaskKind(enum.StrEnum):
    COMPLAINT = "complaint"
    SERVICE_REQUEST = "service_request"
    FOLLOW_UP = "follow_up"
    CONTACT = "contact"  # a contact task, e.g. opened by an alert


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class OwnerKind(enum.StrEnum):
    STAFF = "staff"  # a named agent or teller (token subject)
    RM = "rm"  # a relationship manager (RM id)
    QUEUE = "queue"  # a work queue, e.g. the call-center queue


CALL_CENTER_QUEUE = "call_center"
# Offers a teller makes when the customer next comes to the counter (campaigns).
COUNTER_QUEUE = "counter"
QUEUES = frozenset({CALL_CENTER_QUEUE, COUNTER_QUEUE})
# A staff owner is a token subject, which sign-in keeps to 100 characters.
MAX_STAFF_OWNER = 100

# How long the bank gives itself, by kind; regulators expect complaints answered promptly.
DUE_AFTER = {
    TaskKind.COMPLAINT: timedelta(days=2),
    TaskKind.SERVICE_REQUEST: timedelta(days=3),
    TaskKind.FOLLOW_UP: timedelta(days=7),
    TaskKind.CONTACT: timedelta(days=3),
}

MAX_RESULT = 2000
MAX_TITLE = 200


@dataclass(frozen=True, slots=True)
class TaskOwner:
    kind: OwnerKind
    ref: str


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    customer_id: int
    kind: TaskKind
    status: TaskStatus
    title: str
    owner: TaskOwner
    due_at: datetime
    created_by: str
    created_at: datetime
    source_interaction_id: int | None
    result: str | None
    satisfaction: int | None
    result_interaction_id: int | None
    completed_at: datetime | None
    planned_channel: Channel | None = None  # a contact task's planned method

    def is_overdue(self, now: datetime) -> bool:
        return self.status is TaskStatus.OPEN and self.due_at < now


@dataclass(frozen=True, slots=True)
class NewTask:
    customer_id: int
    kind: TaskKind
    title: str
    owner: TaskOwner
    due_at: datetime
    source_interaction_id: int | None
    planned_channel: Channel | None = None


def task_for_interaction(kind: InteractionKind) -> TaskKind | None:
    """A complaint or a service request opens a task; other interactions do not."""
    return {
        InteractionKind.COMPLAINT: TaskKind.COMPLAINT,
        InteractionKind.SERVICE_REQUEST: TaskKind.SERVICE_REQUEST,
    }.get(kind)


def default_owner(rm_id: int | None) -> TaskOwner:
    """The customer's RM owns it; without an RM, the call-center queue does."""
    if rm_id is not None:
        return TaskOwner(OwnerKind.RM, str(rm_id))
    return TaskOwner(OwnerKind.QUEUE, CALL_CENTER_QUEUE)


def validate_title(title: str) -> str:
    text = " ".join(title.split())
    if not text:
        raise InvalidInput("title", "a task needs a title")
    if len(text) > MAX_TITLE:
        raise InvalidInput("title", f"the title is longer than {MAX_TITLE}")
    return text


def validate_owner(kind: OwnerKind | None, ref: str | None) -> TaskOwner | None:
    """The owner a caller names, checked so that someone finds the task in their list (myTasks
    matches staff by subject, RMs by id, queues by name); None: the default owner."""
    text = (ref or "").strip()
    if kind is None:
        if text:
            raise InvalidInput("ownerKind", "say what kind of owner is named")
        return None
    if not text:
        raise InvalidInput("owner", "name the owner of that kind")
    match kind:
        case OwnerKind.STAFF:
            if len(text) > MAX_STAFF_OWNER:
                raise InvalidInput(
                    "owner", f"a staff owner is at most {MAX_STAFF_OWNER} characters"
                )
        case OwnerKind.RM:
            if not (text.isascii() and text.isdigit()) or int(text) == 0:
                raise InvalidInput("owner", "an RM owner is the RM's id")
            text = str(int(text))  # "007" is RM 7, as myTasks compares it
        case OwnerKind.QUEUE:
            if text not in QUEUES:
                raise InvalidInput("owner", f"the queues are {', '.join(sorted(QUEUES))}")
    return TaskOwner(kind, text)


# A task is work for someone to do; a due date further ahead than this is a typo or a
# placeholder ("9999-12-31"), and would keep the task out of every overdue list for ever.
MAX_DUE_AHEAD = timedelta(days=5 * 366)


def validate_due(due_at: datetime, now: datetime) -> datetime:
    if due_at.tzinfo is None:
        raise InvalidInput("dueAt", "the due date needs a time zone")
    if due_at < now:
        raise InvalidInput("dueAt", "the due date is in the past")
    if due_at - now > MAX_DUE_AHEAD:
        raise InvalidInput("dueAt", "the due date is more than five years ahead")
    return due_at


def validate_completion(task: Task, result: str, satisfaction: int | None) -> str:
    if task.status is not TaskStatus.OPEN:
        raise InvalidInput("taskId", f"the task is already {task.status.value}")
    text = result.strip()
    if not text:
        raise InvalidInput("result", "record what came of the task")
    if len(text) > MAX_RESULT:
        raise InvalidInput("result", f"the result is longer than {MAX_RESULT}")
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise InvalidInput("satisfaction", "satisfaction is from 1 to 5")
    return text


def may_work_on(task: Task, subject: str, rm_id: int | None, is_agent: bool) -> bool:
    """Who may complete a task: its named owner, its RM, or an agent for a queue task."""
    match task.owner.kind:
        case OwnerKind.STAFF:
            return task.owner.ref == subject
        case OwnerKind.RM:
            return rm_id is not None and task.owner.ref == str(rm_id)
        case OwnerKind.QUEUE:
            return is_agent
