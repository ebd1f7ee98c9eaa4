"""The ``escalator`` command: worker, broker, replay, demo and schema generation."""

import argparse
import asyncio
import logging
import os
import signal
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workers.errors import ConfigurationError, EscalatorError
from workers.logs import configure_logging, worker_logging
from workers.services import require_broker, require_redis
from workers.settings import BrokerProfile, Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

EXIT_USAGE = 2


def progress_console() -> "Console":
    """Where progress bars are drawn: standard error, so standard output stays data. Bars show
    only when it is a terminal (rich's ``is_terminal``)."""
    from rich.console import Console

    return Console(stderr=True)


def _run_worker(settings: Settings) -> int:
    require_broker(settings)
    require_redis(settings)

    from workers.runtime import service_worker, tune_gc
    from workers.stream.app import build_app
    from workers.stream.topics import ensure_topics

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(ensure_topics(settings))
    worker = build_app(settings)
    tune_gc()
    service_worker(
        worker.app,
        loop,
        loglevel=settings.log_level,
        **worker_logging(settings.log_format, settings.log_level),
    ).execute_from_commandline()
    return 0


def _run_broker(port: int, kafka: bool, data: Path) -> int:
    from workers.embedded import BrokerProcess, EmbeddedBroker, KafkaBroker
    from workers.embedded.kafka_broker import kafka_libs

    broker: BrokerProcess
    if kafka:
        kafka_libs(announce=lambda line: print(line, flush=True))
        print(f"Apache Kafka (KRaft, one node) starting, its log under {data}...", flush=True)
        broker = KafkaBroker(data, port=port).start()
        print(
            f"Apache Kafka listening: ESCALATOR_BROKER_URL={broker.url} "
            "ESCALATOR_BROKER_PROFILE=kafka",
            flush=True,
        )
        print(f"topics are kept in {data}; broker log: {broker.log_path}; Ctrl-C to stop")
    else:
        broker = EmbeddedBroker(port=port).start()
        print(f"embedded broker (Tansu) listening: ESCALATOR_BROKER_URL={broker.url}", flush=True)
        print("topics live in memory and are lost when it stops; Ctrl-C to stop", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.new_event_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        loop.run_until_complete(stopped.wait())
    finally:
        broker.stop()
        loop.close()
    return 0


def _policy_path(option: str | None, settings: Settings) -> Path | None:
    return Path(option) if option else settings.policy_file


def _input_bytes(paths: Sequence[str]) -> int | None:
    """Total size of the input files; None when one has no known size (standard input, a
    pipe). Raises OSError naming a file that cannot be read, before anything is replayed."""
    sizes: list[int | None] = []
    for name in list(paths) or ["-"]:
        if name == "-":
            sizes.append(None)
            continue
        with Path(name).open("rb") as handle:
            status = os.fstat(handle.fileno())
        sizes.append(status.st_size if stat.S_ISREG(status.st_mode) else None)
    known = [size for size in sizes if size is not None]
    return sum(known) if len(known) == len(sizes) else None


def replay_progress(console: "Console") -> "Progress":
    """The bytes-read bar of ``escalator replay``; disabled unless ``console`` is a terminal.

    Standard output is not redirected through the bar: escalations must reach a pipe or file
    unchanged. Standard error is, so invalid-line reports print above the bar.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("replaying"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        disable=not console.is_terminal,
    )


def _run_replay(paths: Sequence[str], trace: bool, policy: Path | None, settings: Settings) -> int:
    from workers.decision import DecisionEngine
    from workers.decision.policy import load_policy
    from workers.replay import Replayer, read_lines

    try:
        total = _input_bytes(paths)
    except OSError as exc:
        print(f"escalator: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    engine = DecisionEngine(load_policy(policy))
    replayer = Replayer(
        engine,
        max_record_bytes=settings.max_record_bytes,
        max_word_chars=settings.max_word_chars,
    )
    with replay_progress(progress_console()) as progress:
        task = progress.add_task("replaying", total=total)

        def advance(size: int) -> None:
            progress.advance(task, size)

        lines = read_lines(paths, sys.stdin, on_read=advance)
        stats = replayer.run(lines, sys.stdout, sys.stderr, trace=trace)
    if stats.invalid_lines:
        print(f"{stats.invalid_lines} invalid line(s) skipped", file=sys.stderr)
        return 1
    return 0


def _run_policy(action: str, path: str | None) -> int:
    from workers.decision.policy import default_policy, default_policy_text, load_policy

    if action == "show":
        print(default_policy_text(), end="")
        return 0
    policy = load_policy(Path(path)) if path else default_policy()
    human_required = [topic.name for topic in policy.topics if topic.human_required]
    watch = [topic.name for topic in policy.topics if not topic.human_required]
    print(f"{path or 'default policy'}: valid")
    print(f"  topics escalating at once: {', '.join(human_required) or 'none'}")
    print(f"  topics that lower tolerance (watch): {', '.join(watch) or 'none'}")
    routes = ", ".join(
        f"{reason}->{route.queue}/p{route.priority}" for reason, route in policy.routes.items()
    )
    print(f"  routes: {routes}")
    return 0


def _run_redis_acl(prefix: str, worker: str, desks: list[str]) -> int:
    from workers.queues.acl import desk_user, worker_user

    print(worker_user(prefix, worker).command_line("WORKER_PASSWORD"))
    for desk in desks:
        name, _, queues = desk.partition("=")
        if not name or not queues:
            raise ConfigurationError(f"--desk {desk!r}: expected NAME=QUEUE[,QUEUE...]")
        user = desk_user(prefix, queues.split(","), name)
        print(user.command_line(f"{name.upper().replace('-', '_')}_PASSWORD"))
    return 0


def _run_schemas(check: bool) -> int:
    from schemas.generate import JSON_DIR, stale_files, write_schemas

    if check:
        stale = stale_files()
        for name in stale:
            print(f"stale: {JSON_DIR / name} (run `escalator schemas`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas():
        print(path)
    return 0


def _run_demo(timeout: float, broker: str) -> int:
    from workers.demo import run_demo

    return run_demo(timeout_seconds=timeout, broker_profile=BrokerProfile(broker))


def _run_eval(
    data: Path | None,
    json_path: Path | None,
    markdown_path: Path | None,
    limit: int | None,
    conversations: Path | None = None,
) -> int:
    from rich.console import Console

    from workers.evaluation.runner import (
        render_json,
        render_markdown,
        render_table,
        render_wrong,
        run_evaluation,
    )

    if limit is not None and limit < 1:
        print("escalator: --limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    result = run_evaluation(
        data, limit=limit, console=progress_console(), conversations=conversations
    )
    # Piped into a file, the table keeps its natural width instead of wrapping at 80.
    out = Console(width=None if sys.stdout.isatty() else 200)
    out.print(render_table(result))
    wrong = render_wrong(result)
    if wrong is not None:
        out.print(wrong)
    if json_path:
        json_path.write_text(render_json(result), encoding="utf-8")
    if markdown_path:
        markdown_path.write_text(render_markdown(result), encoding="utf-8")
    return 0


def _run_desk(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.lifecycle import HandoffStatus
    from workers.desk import commands

    if args.action == "tail":
        if args.interval <= 0 or args.limit < 1:
            print("escalator: --interval must be positive, --limit at least 1", file=sys.stderr)
            return EXIT_USAGE
        require_redis(settings)
        return commands.tail(settings, args.queue, args.once, args.interval, args.limit)
    # Claiming and reporting both publish a handoff event and change Redis.
    require_broker(settings)
    require_redis(settings)
    if args.action == "claim":
        return commands.claim(settings, args.queues, args.consumer, args.agent, args.claim_timeout)
    status = {
        "resolve": HandoffStatus.RESOLVED,
        "return": HandoffStatus.RETURNED_TO_BOT,
        "abandon": HandoffStatus.ABANDONED,
    }[args.action]
    return commands.report(
        settings, status, args.session, args.escalation_id, args.note, args.agent
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every option explains itself in ``--help``."""
    parser = argparse.ArgumentParser(
        prog="escalator",
        description="Hand customer-service chats to a person when the bot has heard but "
        "cannot help. Settings come from ESCALATOR_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "worker", help="run the stream worker (Faust) against the configured broker and Redis"
    )

    broker = commands.add_parser(
        "broker",
        help="run a broker in the foreground: the embedded Tansu, or Apache Kafka (--kafka)",
        description="Runs a broker on loopback until Ctrl-C. By default the embedded Tansu "
        "(topics in memory, lost when it stops); with --kafka a single-node Apache Kafka in "
        "KRaft mode, its jars fetched from Maven Central once (Java 17+ and Maven needed), its "
        "topics kept under --data.",
    )
    broker.add_argument(
        "--port", type=int, default=9092, help="loopback port to listen on (default 9092)"
    )
    broker.add_argument(
        "--kafka", action="store_true", help="run Apache Kafka instead of the embedded broker"
    )
    broker.add_argument(
        "--data",
        type=Path,
        default=Path(".escalator/kafka"),
        help="with --kafka: where its log lives (default .escalator/kafka)",
    )

    replay = commands.add_parser(
        "replay",
        help="run JSON-lines chat events through the decision core offline, print escalations",
        description="Reads chat events as JSON lines (standard input when no PATH or '-'), "
        "runs them in order through the worker's decision code and prints each escalation as a "
        "JSON line. Invalid lines are reported on stderr with their line number and skipped; "
        "exit code 1 if any were.",
    )
    replay.add_argument(
        "paths", nargs="*", metavar="PATH", help="files of JSON lines; '-' for stdin"
    )
    replay.add_argument(
        "--policy",
        metavar="FILE",
        help="decision policy TOML (default: ESCALATOR_POLICY_FILE or the shipped one)",
    )
    replay.add_argument(
        "--trace",
        action="store_true",
        help="print one JSON line per event (frustration, signals, matrix, escalation)",
    )

    demo = commands.add_parser(
        "demo",
        help="start the embedded broker and a worker, replay the sample chats, "
        "show escalations live",
    )
    demo.add_argument(
        "--timeout", type=float, default=120.0, help="give up after this many seconds (default 120)"
    )
    demo.add_argument(
        "--broker",
        choices=[profile.value for profile in BrokerProfile],
        default=BrokerProfile.EMBEDDED.value,
        help="embedded (Tansu, default) or kafka (a single-node Apache Kafka from Maven Central)",
    )

    redis_acl = commands.add_parser(
        "redis-acl",
        help="print the ACL SETUSER commands of the worker's and the desks' Redis users",
        description="Prints one ACL SETUSER line per user (for redis-cli or an ACL file), the "
        "passwords left as placeholders: the worker, and a desk user per --desk with only its "
        "queues. The command lists are what the Lua scripts and the code run "
        "(workers/queues/acl.py).",
    )
    redis_acl.add_argument(
        "--prefix", default=None, help="key prefix (default: ESCALATOR_REDIS_PREFIX or escalator)"
    )
    redis_acl.add_argument("--worker", default="escalator-worker", help="the worker's user name")
    redis_acl.add_argument(
        "--desk",
        action="append",
        default=[],
        metavar="NAME=QUEUE[,QUEUE...]",
        help="a desk user and the queues it serves (repeatable)",
    )

    policy = commands.add_parser(
        "policy",
        help="validate a decision policy file, or print the shipped default",
        description="`policy check FILE` validates FILE (layered over the shipped default) and "
        "explains each error with its location; `policy show` prints the default policy.",
    )
    policy_actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = policy_actions.add_parser("check", help="validate a policy file")
    check.add_argument(
        "file", nargs="?", metavar="FILE", help="the policy TOML (default: the shipped one)"
    )
    policy_actions.add_parser("show", help="print the shipped default policy")

    evaluate = commands.add_parser(
        "eval",
        help="score the decision core on public labelled data, beside simple baselines",
        description="Replays each labelled set in DIR (see its README.md) through the same "
        "decision code as `replay --trace` and prints, per set, escalator's metrics beside "
        "VADER and keyword baselines and the goal for each headline metric. Needs the eval "
        "extra (pip install 'escalator[eval]'). Also scores escalator's own multi-turn "
        "conversation set (when each chat must go to a person) and lists the ones it gets wrong.",
    )
    evaluate.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="the eval-data folder, e.g. ../shared/eval-data; without it only the "
        "conversation set is scored",
    )
    evaluate.add_argument(
        "--conversations",
        type=Path,
        metavar="PATH",
        help="score this conversation file (JSON lines, the format of "
        "workers/evaluation/conversations.jsonl) instead of the shipped set",
    )
    evaluate.add_argument(
        "--json", type=Path, metavar="PATH", help="also write every number as JSON to PATH"
    )
    evaluate.add_argument(
        "--markdown", type=Path, metavar="PATH", help="also write the table as Markdown to PATH"
    )
    evaluate.add_argument(
        "--limit", type=int, metavar="N", help="at most N items per set, for a quick run"
    )

    desk = commands.add_parser(
        "desk",
        help="act as an agent desk: watch a queue, claim escalations, report on handoffs",
        description="The desk side of the handoff on the command line (docs/desk-integration.md). "
        "Reads the Redis queues of ESCALATOR_REDIS_PREFIX and publishes handoff events to "
        "ESCALATOR_HANDOFF_EVENTS_TOPIC on ESCALATOR_BROKER_URL.",
    )
    desk_actions = desk.add_subparsers(dest="action", required=True, metavar="ACTION")
    desk_tail = desk_actions.add_parser(
        "tail",
        help="show a queue's waiting escalations live, in the order desks are served",
        description="One row per escalation still in the queue (waiting, or claimed but not yet "
        "accepted), tier by tier and oldest first: session, priority, reasons, time waited "
        "since enqueue and the first evidence. Refreshes until Ctrl-C.",
    )
    desk_tail.add_argument("queue", metavar="QUEUE", help="the queue name, e.g. general or fraud")
    desk_tail.add_argument(
        "--once", action="store_true", help="print one snapshot and exit (for scripts and tests)"
    )
    desk_tail.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between refreshes (default 1)",
    )
    desk_tail.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="show at most N escalations (default 50)",
    )
    desk_claim = desk_actions.add_parser(
        "claim",
        help="claim the next escalation, accept it and print the handoff packet as JSON",
        description="Claims the next escalation (strict priority across the served queues, "
        "oldest first within a tier; stale claims of other desks first), accepts it (the entry "
        "leaves the queue, the agent is recorded as owner, an accepted handoff event is "
        "published) and prints the handoff packet as JSON. Exit code 3 when nothing waits.",
    )
    desk_claim.add_argument(
        "--queue",
        dest="queues",
        action="append",
        metavar="Q",
        help="serve this queue; repeat for several (default: every queue in Redis)",
    )
    desk_claim.add_argument(
        "--consumer",
        metavar="NAME",
        help="consumer name in the 'desks' consumer group (default: HOSTNAME-PID)",
    )
    desk_claim.add_argument(
        "--agent",
        metavar="AGENT",
        help="agent id recorded as owner and sent in the accepted event (default: the consumer)",
    )
    desk_claim.add_argument(
        "--claim-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="take over entries another desk claimed longer ago than this without accepting "
        "them (default 30)",
    )
    for action, status, meaning in (
        ("resolve", "resolved", "the person solved it; the session may go on with the bot"),
        ("return", "returned_to_bot", "the person hands the session back to the bot"),
        ("abandon", "abandoned", "the handoff ended without resolution"),
    ):
        finish = desk_actions.add_parser(
            action,
            help=f"publish the {status} handoff event: {meaning}",
            description=f"Publishes the {status} handoff event ({meaning}), releases the "
            "ownership recorded at accept and prints the event as JSON. Repeating the command "
            "publishes the same event again (same event id), so it is safe to retry.",
        )
        finish.add_argument("session", metavar="SESSION", help="the session id")
        finish.add_argument(
            "escalation_id", metavar="ESCALATION_ID", help="the accepted escalation's id"
        )
        finish.add_argument(
            "--note", metavar="TEXT", help="free text for the record (at most 2000 characters)"
        )
        finish.add_argument(
            "--agent", metavar="AGENT", help="agent id in the event (default: the recorded owner)"
        )

    schemas = commands.add_parser(
        "schemas", help="write schemas/json/*.schema.json from the pydantic models"
    )
    schemas.add_argument(
        "--check", action="store_true", help="only report stale files; exit 1 if any"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO)
    try:
        if args.command == "schemas":
            return _run_schemas(args.check)
        if args.command == "demo":
            return _run_demo(args.timeout, args.broker)
        if args.command == "redis-acl":
            prefix = args.prefix or load_settings().redis_prefix
            return _run_redis_acl(prefix, args.worker, args.desk)
        if args.command == "policy":
            return _run_policy(args.action, getattr(args, "file", None))
        if args.command == "broker":
            return _run_broker(args.port, args.kafka, args.data)
        if args.command == "eval":
            return _run_eval(args.data, args.json, args.markdown, args.limit, args.conversations)
        settings = load_settings()
        if args.command == "desk":
            return _run_desk(args, settings)
        if args.command == "replay":
            return _run_replay(
                args.paths, args.trace, _policy_path(args.policy, settings), settings
            )
        return _run_worker(settings)
    except EscalatorError as exc:
        print(f"escalator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
