"""Bash completion for `normbench` and its subcommands, `normbench train`'s overrides above all.

Hydra's own script (`-sc install=bash`) completes the program it was started as, one word long: run as
`normbench train` it would register completion for `normbench` and `train` and ask `normbench -sc query=bash`,
which is no command. This script completes the subcommand after `normbench`, and after `normbench train` asks
Hydra for the overrides (`normbench train -sc query=bash`) with the command line as Hydra's query reads it: one
program word, then the overrides. zsh loads it through bashcompinit.
"""

SCRIPT = """_normbench_completion()
{{
    local words=($COMP_LINE)
    local word="${{words[$COMP_CWORD]}}"
    if (( COMP_CWORD == 1 )); then
        COMPREPLY=($(compgen -W "{commands} --help --version" -- "$word"))
    elif [ "${{words[1]}}" == "train" ]; then
        # Hydra's query drops the first word of COMP_LINE: hand it `normbench-train <overrides>`.
        local line="normbench-train ${{COMP_LINE#*train}}"
        local choices=$(COMP_POINT=$COMP_POINT COMP_LINE="$line" {program} train -sc query=bash 2>/dev/null)
        COMPREPLY=($(compgen -o nospace -o default -W "$choices" -- "$word"))
    else
        COMPREPLY=($(compgen -o default -- "$word"))
    fi
}}
COMP_WORDBREAKS=${{COMP_WORDBREAKS//=}}
complete -o nospace -o default -F _normbench_completion {program}
"""


def bash_script(commands, program: str = "normbench") -> str:
    """The script `eval "$(normbench train -sc install=bash)"` runs: completion of `program` and its `commands`."""
    return SCRIPT.format(commands=" ".join(commands), program=program)


def bash_uninstall(program: str = "normbench") -> str:
    return f"complete -r {program} 2>/dev/null\nunset -f _normbench_completion\n"


def completion_request(argv: list[str]) -> str | None:
    """`install` or `uninstall` for `-sc install=bash` (or --shell-completion ...); None for anything else,
    e.g. Hydra's own `-sc query=bash`, which the script asks and Hydra answers."""
    for index, argument in enumerate(argv[:-1]):
        if argument in ("-sc", "--shell-completion") and argv[index + 1] in ("install=bash", "uninstall=bash"):
            return argv[index + 1].split("=")[0]
    return None
