"""Job templates in submissions: checking a template's body, and making jobs from templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from infra import templates
from infra.settings import Settings
from schemas.contracts import Contracts
from schemas.errors import FieldError, field_error, join_path
from schemas.jobs import JobSpec, JobSubmit
from schemas.templates import TemplateSubmit, merged, parse_ref, template_body
from schemas.workflows import WorkflowNodeSubmit
from services.submit import SubmitError, build_job

#: One job of a submission: where it is in the body ("" for a lone job), as decoded, and its
#: fields as they were sent (to tell the fields given from defaults).
Item = tuple[str, JobSubmit, Mapping[str, Any]]


def check_template(submit: TemplateSubmit, registry: Contracts, settings: Settings) -> dict[str, Any]:
    """A template's body if it could make jobs: its operation exists, its fields fit, and the
    params it holds fit the operation's (those it leaves out each submission gives); SubmitError
    naming every field at fault."""
    body = template_body(submit)
    errors = []
    if submit.run_at is not None:
        errors.append(FieldError("run_at", "a template holds no time; give delay_seconds, or run_at per job"))
    try:
        build_job(msgspec.convert(body, JobSubmit), registry, settings, check_params=False)
    except SubmitError as exc:
        errors += exc.errors
    op = registry.offered(submit.engine, submit.operation)
    if op is not None:
        errors += partial_params_errors(submit.params, op.params, "params")
    if errors:
        raise SubmitError(errors, code="invalid_template")
    return body


def partial_params_errors(params: Mapping[str, Any], struct: type[msgspec.Struct], at: str) -> list[FieldError]:
    """Problems with some of an operation's params: each must be one of its fields, of its type."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    errors: list[FieldError] = []
    for key, value in params.items():
        if key not in fields:
            errors.append(FieldError(join_path(at, key), f"is not a param of the operation ({', '.join(fields)})"))
            continue
        try:
            msgspec.convert(value, fields[key].type)
        except msgspec.ValidationError as exc:
            errors.append(field_error(str(exc), join_path(at, key)))
    return errors


async def apply_templates(pool: asyncpg.Pool, tenant: str, items: Sequence[Item]) -> list[JobSubmit]:
    """Each job of a submission with its template applied (the others as they are): the fields
    sent replace the template's, params and metadata merge into its own, tags add to its tags,
    and the job names the version it was made from. SubmitError naming each field at fault."""
    errors: list[FieldError] = []
    refs: dict[int, tuple[str, int | None]] = {}
    for index, (at, submit, _) in enumerate(items):
        if submit.template is not None:
            try:
                refs[index] = parse_ref(submit.template)
            except ValueError as exc:
                errors.append(FieldError(join_path(at, "template"), str(exc)))
    found = await templates.get_templates(pool, tenant, list(dict.fromkeys(refs.values()))) if refs else {}
    out: list[JobSubmit] = []
    for index, (at, submit, given) in enumerate(items):
        if index not in refs:
            out.append(submit)
            continue
        row = found.get(refs[index])
        if row is None:
            errors.append(FieldError(join_path(at, "template"), _missing(*refs[index])))
            continue
        body = merged(row["body"], {k: v for k, v in given.items() if k != "template"})
        body["template"] = f"{row['name']}@{row['version']}"
        try:
            out.append(msgspec.convert(body, JobSubmit))
        except msgspec.ValidationError as exc:
            errors.append(field_error(str(exc), at))
    if errors:
        raise SubmitError(errors)
    return out


def _missing(name: str, version: int | None) -> str:
    if version is None:
        return f'no template "{name}"'
    return f'template "{name}" has no version {version} (or no such template)'


async def apply_node_templates(
    pool: asyncpg.Pool, tenant: str, nodes: Sequence[WorkflowNodeSubmit], sent: Sequence[Mapping[str, Any]]
) -> list[WorkflowNodeSubmit]:
    """Workflow nodes with their templates applied to their jobs, as apply_templates does
    (`sent`: the nodes as they were sent); SubmitError naming `nodes[i].…` at fault."""
    job_fields = (*JobSpec.__struct_fields__, "template")
    items: list[Item] = [
        (
            f"nodes[{index}]",
            JobSubmit(**{name: getattr(node, name) for name in job_fields}),
            {name: value for name, value in sent[index].items() if name in job_fields},
        )
        for index, node in enumerate(nodes)
    ]
    jobs = await apply_templates(pool, tenant, items)
    return [
        msgspec.structs.replace(node, **{name: getattr(job, name) for name in job_fields})
        for node, job in zip(nodes, jobs, strict=True)
    ]
