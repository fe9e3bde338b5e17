"""A flow's parameters are declared once, in its signature (type, bounds, default) and docstring (what each means):
the model that validates them and the command-line flags with their help are built from that declaration here, so
the Prefect UI form, the server's check, the command line and its help cannot drift apart.

Checks across fields live in plain functions that the model's validators call, so the flow (which builds the model
from its arguments) and the command line (which builds it from the flags) refuse the same inputs the same way.
"""

from __future__ import annotations

import argparse
import inspect
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from prefect import Flow
from prefect.utilities.callables import parameter_schema
from pydantic import BaseModel, create_model

from workflows.terminal import as_flags


def flow_signature(flow: Flow[..., Any]) -> list[inspect.Parameter]:
    """The flow's parameters with their annotations evaluated (Annotated bounds included)."""
    return list(inspect.signature(flow.fn, eval_str=True).parameters.values())


def parameters_model(flow: Flow[..., Any], name: str, checks: type[BaseModel]) -> type[BaseModel]:
    """A pydantic model with one field per flow parameter (its annotation and default), on `checks`: a base
    model whose validators hold the per-field and cross-field checks the signature cannot express."""
    fields: dict[str, Any] = {p.name: (p.annotation, p.default) for p in flow_signature(flow)}
    return create_model(name, __base__=checks, __module__=flow.fn.__module__, **fields)


def flag_names(flow: Flow[..., Any], renamed: Mapping[str, str]) -> dict[str, str]:
    """Parameter -> the command-line argument that sets it: `renamed` where given (a name without dashes is a
    positional argument), else the parameter's name as a flag (`batch_size` -> `--batch-size`)."""
    return {p.name: renamed.get(p.name, "--" + p.name.replace("_", "-")) for p in flow_signature(flow)}


def add_flow_arguments(
    parser: argparse.ArgumentParser,
    flow: Flow[..., Any],
    flags: Mapping[str, str],
    types: Mapping[str, Callable[[str], Any]] | None = None,
    metavars: Mapping[str, str] | None = None,
) -> None:
    """One argument per flow parameter, named as `flags` says, with the type (or the one `types` gives), choices
    and default of the signature and the docstring's description as help; `metavars` names a flag's value in the
    usage (`--active-orbitals K`). The value lands under the parameter's own name; a list is a positional taking
    several values, or a flag given once per value (`--scenario`)."""
    descriptions = parameter_schema(flow).properties
    for parameter in flow_signature(flow):
        flag = flags[parameter.name]
        description = descriptions.get(parameter.name, {}).get("description", "")
        options = _argument_options(parameter, _help(description, parameter.default, flags))
        if parameter.name in (types or {}):
            options["type"] = (types or {})[parameter.name]
        if parameter.name in (metavars or {}):
            options["metavar"] = (metavars or {})[parameter.name]
        if flag.startswith("-"):
            if options.get("nargs") == "*":
                help_text = options["help"].replace(" (default", "; repeat the flag for several (default", 1)
                options = {**options, "nargs": None, "action": "append", "default": None, "help": help_text}
            parser.add_argument(flag, dest=parameter.name, **options)
        else:
            parser.add_argument(parameter.name, **{"metavar": flag, **options})


def given_parameters(args: argparse.Namespace, flow: Flow[..., Any]) -> dict[str, Any]:
    """The flow parameters the command line set: a flag left out (None) takes the flow's default."""
    values = {p.name: getattr(args, p.name) for p in flow_signature(flow)}
    return {name: value for name, value in values.items() if value is not None}


def _argument_options(parameter: inspect.Parameter, help_text: str) -> dict[str, Any]:
    """argparse keywords for one parameter: a switch for a bool, any number of values for a list, a choice for
    a Literal, else one value of the annotated type."""
    value_type = _value_type(parameter.annotation)
    if value_type is bool:
        return {"action": "store_true", "help": help_text}
    options: dict[str, Any] = {"default": parameter.default, "help": help_text}
    if get_origin(value_type) is list:
        return {**options, "nargs": "*", "type": get_args(value_type)[0]}
    if get_origin(value_type) is Literal:
        return {**options, "choices": get_args(value_type)}
    return {**options, "type": value_type}


def _value_type(annotation: Any) -> Any:
    """The type a flag's value has: the annotation without its Annotated bounds and without `| None`."""
    if get_origin(annotation) is Annotated:
        return _value_type(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        (value_type,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _value_type(value_type)
    return annotation


def _help(description: str, default: Any, flags: Mapping[str, str]) -> str:
    """The docstring's description on one line, parameters named as their flags, and the default when it says
    something (argparse reads `%` as a format, so it is doubled)."""
    text = as_flags(" ".join(description.split()), flags).removesuffix(".")
    if isinstance(default, list) and default:
        text += f" (default {', '.join(map(str, default))})"
    elif default not in (None, [], "") and not isinstance(default, bool):
        text += f" (default {default})"
    return text.replace("%", "%%")
