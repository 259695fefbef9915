"""Live activity per customer from Redis pub/sub (published by the outbox relay).

One pub/sub connection per process carries every subscription: a subscription is a queue the
reader fills, and a channel is subscribed in Redis while at least one queue listens to it. A
connection of its own per subscription would cost Redis a client per followed customer — a
call center of a few thousand desktops would pass Redis's default of 10,000 clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from api.redis.events import activity_channel, decode
from domain.activity import ActivityEvent
from domain.errors import DomainError

log = logging.getLogger(__name__)

# How long one read of the pub/sub connection waits: how soon the reader notices that nobody
# listens any more, and how often it looks for cancelled subscriptions.
POLL_SECONDS = 1.0
# Events a subscription may have waiting: a client that cannot keep up is ended, never waited
# for, so one slow desktop does not hold up everybody else's events.
QUEUE_SIZE = 256


class SubscriberTooSlow(DomainError):
    code = "SUBSCRIBER_TOO_SLOW"


class TooManySubscriptions(DomainError):
    code = "SUBSCRIPTION_LIMIT_REACHED"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"you hold {limit} live subscriptions already; complete one before starting another"
        )
        self.limit = limit

    def details(self) -> dict[str, object]:
        return {"limit": self.limit}


# Put in a queue in place of the event that did not fit: the subscription ends with an error.
_OVERFLOWED = object()
# Put in the queue of a subscription whose task was cancelled while it waited (see
# `RedisActivityFeed._wake_the_cancelled`).
_CANCELLED = object()


def _settled(task: asyncio.Task[None]) -> None:
    """Mark a background task's failure as seen (it was logged where it happened)."""
    if not task.cancelled():
        task.exception()


class RedisActivityFeed:
    def __init__(self, redis: aioredis.Redis, max_per_holder: int = 20) -> None:
        self.redis = redis
        self.max_per_holder = max_per_holder
        # Live subscriptions per holder (one caller, over all their connections).
        self._held: Counter[str] = Counter()
        self._pubsub: PubSub | None = None
        self._lost = False  # Redis went away while reading (logged once until it is back)
        self._reader: asyncio.Task[None] | None = None
        # Which queues listen to which channel: changed only without awaiting, by the
        # subscriptions themselves; Redis is brought in line with it by `_reconcile`.
        self._listeners: dict[str, set[asyncio.Queue[Any]]] = {}
        self._subscribed: set[str] = set()  # the channels Redis has been asked for
        self._lock = asyncio.Lock()  # one reconciliation at a time
        self._background: set[asyncio.Task[None]] = set()
        # The task each subscription waits in: see `_wake_the_cancelled`.
        self._owners: dict[asyncio.Queue[Any], asyncio.Task[Any]] = {}

    async def subscribe(self, customer_id: int, holder: str) -> AsyncGenerator[ActivityEvent, None]:
        if self._held[holder] >= self.max_per_holder:
            raise TooManySubscriptions(self.max_per_holder)
        self._held[holder] += 1
        channel = activity_channel(customer_id)
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
        self._listeners.setdefault(channel, set()).add(queue)
        owner = asyncio.current_task()
        if owner is not None:
            self._owners[queue] = owner
        try:
            # The Redis commands run in a task of their own, never in the subscription's: a
            # client that drops its websocket mid-subscribe cancels only its own wait.
            await asyncio.shield(self._reconciling())
            while True:
                item = await queue.get()
                if item is _CANCELLED:
                    raise asyncio.CancelledError
                if item is _OVERFLOWED:
                    raise SubscriberTooSlow(
                        f"more than {QUEUE_SIZE} events waited for this subscription; "
                        "subscribe again and read the profile for what was missed"
                    )
                yield item
        finally:
            self._held[holder] -= 1
            if not self._held[holder]:
                del self._held[holder]
            self._owners.pop(queue, None)
            listeners = self._listeners.get(channel)
            if listeners is not None:
                listeners.discard(queue)  # already gone if it overflowed
                if not listeners:
                    del self._listeners[channel]
                    self._reconciling()

    def _reconciling(self) -> asyncio.Task[None]:
        """`_reconcile` in a task of its own, held until done (the loop keeps only a weak
        reference); its failure is logged there and awaited by whoever waits for it."""
        task = asyncio.create_task(self._reconcile())
        self._background.add(task)
        task.add_done_callback(_settled)
        task.add_done_callback(self._background.discard)
        return task

    async def _reconcile(self) -> None:
        """Subscribe Redis to the channels somebody listens to and unsubscribe it from the
        rest; start the reader when there is something to read."""
        async with self._lock:
            wanted = set(self._listeners)
            if self._pubsub is None:
                if not wanted:
                    return
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            pubsub = self._pubsub
            joining, leaving = wanted - self._subscribed, self._subscribed - wanted
            try:
                if joining:
                    # Counted before it is sent, as redis-py records it: a reconnect
                    # resubscribes it even if this send fails.
                    self._subscribed |= joining
                    await pubsub.subscribe(*joining)
                if leaving:
                    await pubsub.unsubscribe(*leaving)
                    self._subscribed -= leaving  # on failure, the next reconciliation retries
            except RedisError:
                log.warning("could not update the activity subscriptions", exc_info=True)
                raise
            if wanted and (self._reader is None or self._reader.done()):
                self._reader = asyncio.create_task(self._read(pubsub))

    def _wake_the_cancelled(self) -> None:
        """End the subscriptions whose task was cancelled but still waits for an event.

        Seen in the tests: a websocket dropped right after subscribing left its operation's
        task marked cancelled (`cancelling()`) yet still waiting on its queue; the subscription
        outlived its client and stalled the server's shutdown. The reader looks once per poll,
        for all of them, instead of every subscription waking on a timer of its own."""
        for queue, owner in self._owners.items():
            if owner.cancelling() and queue.empty():
                queue.put_nowait(_CANCELLED)

    async def _read(self, pubsub: PubSub) -> None:
        """Hand each message to the queues listening on its channel; stop, and give the
        connection back, once nobody listens."""
        loop = asyncio.get_running_loop()
        looked = loop.time()
        while True:
            if loop.time() - looked >= POLL_SECONDS:
                looked = loop.time()
                self._wake_the_cancelled()
            if self._pubsub is not pubsub:
                return  # closed (shutdown) or replaced: another reader serves the new one
            if not self._listeners and await self._close_if_idle(pubsub):
                return
            try:
                message = await pubsub.get_message(timeout=POLL_SECONDS)
            except RedisError as exc:
                # redis-py reconnects on the next read and resubscribes every channel. Said
                # once when Redis goes and once when it is back, not every second meanwhile.
                if not self._lost:
                    self._lost = True
                    log.warning("the activity feed lost Redis (%s); reconnecting", exc)
                await asyncio.sleep(POLL_SECONDS)
                continue
            except Exception:
                # A reader that died would leave every subscription of the process silent.
                log.exception("the activity feed's reader failed; reading on")
                await asyncio.sleep(POLL_SECONDS)
                continue
            if self._lost:
                self._lost = False
                log.warning("the activity feed has Redis again")
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            listeners = self._listeners.get(
                channel.decode() if isinstance(channel, bytes) else channel
            )
            if not listeners:
                continue
            try:
                event = decode(message["data"])
            except (ValueError, KeyError, TypeError):
                log.exception("an activity message could not be read; skipped")
                continue
            for queue in list(listeners):
                try:
                    queue.put_nowait(event)
                except asyncio.QueueFull:
                    listeners.discard(queue)
                    queue.get_nowait()  # room for the marker that ends it
                    queue.put_nowait(_OVERFLOWED)

    async def _close_if_idle(self, pubsub: PubSub) -> bool:
        async with self._lock:
            if self._listeners or self._pubsub is not pubsub:
                return False
            if self._subscribed:
                if not self._background:
                    self._reconciling()  # an unsubscribe that failed: try again
                return False
            self._pubsub = None
            self._reader = None
        with contextlib.suppress(RedisError):
            await pubsub.aclose()
        return True

    async def aclose(self) -> None:
        """Stop reading (at shutdown): subscriptions still open end with their websockets."""
        for task in list(self._background):
            task.cancel()
        reader, pubsub = self._reader, self._pubsub
        self._reader = self._pubsub = None
        self._listeners.clear()
        self._subscribed.clear()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if pubsub is not None:
            with contextlib.suppress(RedisError):
                await pubsub.aclose()
