"""`rxt chat`: talk to a running service (`rxt serve`) from the terminal.

Answers stream as they are generated. Every answered turn becomes a new memory version of the
session once its memory update has landed. Commands:

    /versions      list the session's memory versions (the turn each one wrote)
    /fork N        continue in a new session whose memory is version N of this one
    /rollback N    make version N's memory this session's current memory again
    /new           start a new session
    /session       show the session (id, version, agent)
    /quit          leave (the session stays on the server: resume it with --session ID)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import grpc

from orchestration.config import DEFAULT_PORT
from protos.rxt.v1 import reactive_pb2 as pb
from protos.rxt.v1 import reactive_pb2_grpc


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rxt chat", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--address", default=f"localhost:{DEFAULT_PORT}", help="service address (default: %(default)s)"
    )
    p.add_argument("--session", default=None, help="resume this session id (default: a new session)")
    p.add_argument("--agent", default="", help="agent of a new session (default: the service's default)")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None, help="0 = greedy (default: the agent's)")
    p.add_argument(
        "--timings", action="store_true", help="print usage, versions and latency after each answer"
    )
    return p.parse_args(argv)


class Chat:
    def __init__(self, stub: reactive_pb2_grpc.ReactiveServiceStub, args: argparse.Namespace, out=sys.stdout):
        self.stub, self.args, self.out = stub, args, out
        self.session: pb.Session | None = None

    def say(self, text: str = "", end: str = "\n") -> None:
        print(text, end=end, file=self.out, flush=True)

    def open(self, session_id: str | None) -> None:
        if session_id:
            self.session = self.stub.GetSession(pb.GetSessionRequest(session_id=session_id))
        else:
            self.session = self.stub.CreateSession(pb.CreateSessionRequest(agent=self.args.agent))
        self.say(
            f"session {self.session.session_id} (agent {self.session.agent}, version {self.session.version})"
        )

    def ask(self, query: str) -> None:
        request = pb.InteractRequest(session_id=self.session.session_id, query=query)
        if self.args.max_new_tokens is not None:
            request.max_new_tokens = self.args.max_new_tokens
        if self.args.temperature is not None:
            request.temperature = self.args.temperature
        self.say("rxt> ", end="")
        last = None
        for message in self.stub.Interact(request):
            self.say(message.text, end="")
            last = message
        self.say()
        if last is not None and last.done:
            self.session.version = last.next_version  # what the next turn will read
        if last is not None and self.args.timings:
            self.say(
                f"  ({last.usage.answer_tokens} tokens, first after {last.time_to_first_token_ms:.0f} ms, "
                f"memory wait {last.memory_wait_ms:.0f} ms; read version {last.from_version}, "
                f"writes version {last.next_version})"
            )

    def versions(self) -> None:
        snapshots = self.stub.ListSnapshots(
            pb.ListSnapshotsRequest(session_id=self.session.session_id)
        ).snapshots
        for s in snapshots:
            what = f"turn {s.turn}: {s.query!r} -> {s.answer!r}" if s.kind == "update" else s.kind
            if s.kind == "rollback":
                what = f"rollback to version {s.parent_version}"
            self.say(f"{'*' if s.is_head else ' '} v{s.version:<4} {what}")
        if self.stub.GetSession(pb.GetSessionRequest(session_id=self.session.session_id)).update_pending:
            self.say("  (the last turn's memory update is still being written)")

    def command(self, line: str) -> bool:
        """Run a /command; False means quit."""
        name, _, arg = line.partition(" ")
        actions: dict[str, Callable[[], None]] = {
            "/versions": self.versions,
            "/fork": lambda: self._switch(
                self.stub.ForkSession(
                    pb.ForkSessionRequest(session_id=self.session.session_id, version=_version(arg))
                )
            ),
            "/rollback": lambda: self._show(
                self.stub.RollbackSession(
                    pb.RollbackSessionRequest(session_id=self.session.session_id, version=_version(arg))
                )
            ),
            "/new": lambda: self.open(None),
            "/session": lambda: self._show(
                self.stub.GetSession(pb.GetSessionRequest(session_id=self.session.session_id))
            ),
            "/help": lambda: self.say(__doc__.split("Commands:")[1].rstrip()),
        }
        if name in ("/quit", "/exit"):
            return False
        if name not in actions:
            self.say(f"unknown command {name}; /help lists them")
            return True
        actions[name]()
        return True

    def _switch(self, session: pb.Session) -> None:
        self.session = session
        self.say(
            f"forked: now in session {session.session_id} (memory of version {session.forked_from_version})"
        )

    def _show(self, session: pb.Session) -> None:
        self.session = session
        self.say(f"session {session.session_id}: version {session.version}, agent {session.agent}")


def _version(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a version number, got {text!r}") from None


def main(argv: list[str]) -> int:
    args = parse(argv)
    with grpc.insecure_channel(args.address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=10)
        except grpc.FutureTimeoutError:
            print(f"rxt chat: no service at {args.address} (start one with `rxt serve`)", file=sys.stderr)
            return 2
        chat = Chat(reactive_pb2_grpc.ReactiveServiceStub(channel), args)
        try:
            chat.open(args.session)
        except grpc.RpcError as exc:
            print(f"rxt chat: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
        chat.say("/help lists commands, /quit leaves")
        while True:
            try:
                line = input(f"[v{chat.session.version}] you> ").strip()
            except (EOFError, KeyboardInterrupt):
                chat.say()
                return 0
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not chat.command(line):
                        return 0
                else:
                    chat.ask(line)
            except grpc.RpcError as exc:
                chat.say(f"\n{exc.code().name}: {exc.details()}")
            except ValueError as exc:
                chat.say(str(exc))
