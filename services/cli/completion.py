"""`conveyor completion bash|zsh`: a shell completion script, made from the parser itself."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from services.cli.common import Context, command

SCRIPT = """\
# conveyor completion for {shell}: eval "$(conveyor completion {shell})"
{preamble}_conveyor() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" path="" word words i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$path $word" in
{paths}
        esac
    done
    case "$path $prev" in
{values}
        *) case "$path" in
{words}
           esac;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -F _conveyor conveyor
"""
ZSH_PREAMBLE = "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"


def add_commands(sub: Any) -> None:
    """The `completion` command."""
    completion = command(
        sub, "completion", cmd_completion, "print a shell completion script",
        'eval "$(conveyor completion bash)"   # in ~/.bashrc (or zsh, in ~/.zshrc)',
    )  # fmt: skip
    completion.add_argument("shell", choices=["bash", "zsh"])


def commands(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, list[str], list[str]]]:
    """Every command path (" jobs submit"), with its subcommands and its options."""
    subcommands: dict[str, argparse.ArgumentParser] = {}
    options: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subcommands.update(action.choices)
        options += [option for option in action.option_strings if option.startswith("--")]
    yield path, sorted(subcommands), options
    for name, child in sorted(subcommands.items()):
        yield from commands(child, f"{path} {name}")


def option_values(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, list[str]]]:
    """Every option that takes one of some values (" jobs list --status"), with those values."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in sorted(action.choices.items()):
                yield from option_values(child, f"{path} {name}")
        elif action.choices is not None and action.option_strings:
            for option in action.option_strings:
                if option.startswith("--"):
                    yield f"{path} {option}", [str(choice) for choice in action.choices]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of a parser for bash or zsh (through bashcompinit)."""
    found = list(commands(parser))
    nested = [path for path, _, _ in found if path]
    paths = "|".join(f'"{path}"' for path in nested)
    path_case = f'            {paths}) path="$path $word";;' if nested else ""
    word_cases = "\n".join(f'        "{path}") words="{" ".join(subs + opts)}";;' for path, subs, opts in found)
    value_cases = "\n".join(
        f'        "{option}") words="{" ".join(values)}";;' for option, values in option_values(parser)
    )
    word_cases = word_cases.replace("\n", "\n    ").replace("        ", "            ", 1)
    preamble = ZSH_PREAMBLE if shell == "zsh" else ""
    return SCRIPT.format(shell=shell, preamble=preamble, paths=path_case, values=value_cases, words=word_cases)


def cmd_completion(ctx: Context) -> int:
    """Print the script."""
    from services.cli import parser

    ctx.out.stream.write(script(parser(), ctx.args.shell))
    return 0
