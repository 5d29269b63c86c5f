"""The plan's resource inventory: every registered resource and its inputs, as stable JSON.

`make plan` writes it to `build/<stack>/resources.json`; `make plan-diff` compares two of them.
One entry per resource (AWS resources, components and providers), keyed by
``<type>::<logical name>``, holding the type, logical name, parent component, account, Region,
and the inputs the program sent. Inputs that carry a JSON policy document are decoded (and
listed under ``documents``) so that they diff as JSON, not as one long string.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from config.loader import ROOT
from tools.offline import POLICY_PROPERTIES, PROVIDER_TYPE, OfflineRun, RecordedResource

INVENTORY_FILE = "resources.json"
# Bumped when the shape of an entry changes, so that a diff can tell old files from new ones.
# 2: the lifecycle options (retainOnDelete, importId, ignoreChanges, dependsOn).
FORMAT = 2
# The formats `make plan-diff` can still read (a base from before a bump).
READABLE_FORMATS = (1, 2)


def resource_key(type_token: str, name: str) -> str:
    """The inventory key of a resource: unique because Pulumi URNs are (type, name) pairs."""
    return f"{type_token}::{name}"


def key_of_urn(urn: str) -> str:
    """The inventory key of the resource a URN names.

    `urn:pulumi:<stack>::<project>::<parent type>$<type>::<name>`: the type is the last of the
    `$`-separated qualified type, the name what follows the last `::`.
    """
    qualified_type, name = urn.split("::")[-2:]
    return resource_key(qualified_type.split("$")[-1], name)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sha256_tree(path: Path) -> str:
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(item.read_bytes())
    return digest.hexdigest()


def _local_path(path: str, root: Path) -> str:
    # Base and head plan in different checkouts: only the path inside the repository compares.
    resolved = Path(path).resolve()
    return (
        resolved.relative_to(root.resolve()).as_posix()
        if resolved.is_relative_to(root.resolve())
        else path
    )


def _asset(value: pulumi.Asset | pulumi.Archive, root: Path) -> dict[str, Any]:
    # Content hashes rather than the objects: their repr holds a memory address, which would
    # make every plan differ from the last one.
    if isinstance(value, pulumi.FileAsset):
        return {"file": _local_path(value.path, root), "sha256": _sha256_file(Path(value.path))}
    if isinstance(value, pulumi.StringAsset):
        return {"text sha256": hashlib.sha256(value.text.encode()).hexdigest()}
    if isinstance(value, pulumi.RemoteAsset | pulumi.RemoteArchive):
        return {"uri": value.uri}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {name: _asset(item, root) for name, item in value.assets.items()}}
    if isinstance(value, pulumi.FileArchive):
        path = Path(value.path)
        digest = _sha256_tree(path) if path.is_dir() else _sha256_file(path)
        return {"file": _local_path(value.path, root), "sha256": digest}
    raise TypeError(f"unsupported asset type {type(value).__name__}")


def normalize(value: Any, root: Path = ROOT) -> Any:
    """`value` as plain, deterministic JSON data.

    Whole floats become ints (the engine sends every number as a double, so `35` arrives as
    `35.0`); assets and archives become their paths and content hashes. Anything else that
    is not JSON data is a TypeError: a plan that cannot be compared must not look unchanged.
    """
    if isinstance(value, bool | str | int) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): normalize(item, root) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(item, root) for item in value]
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        return _asset(value, root)
    raise TypeError(f"cannot record a {type(value).__name__} in the inventory")


def _decoded_provider_input(value: Any) -> Any:
    # Provider configuration reaches the engine JSON-encoded where it is not a plain string.
    if not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return value if isinstance(decoded, str) else decoded


def inventory_entry(resource: RecordedResource, root: Path = ROOT) -> dict[str, Any]:
    """One resource as the inventory records it."""
    inputs = dict(resource.inputs)
    documents: list[str] = []
    spec = POLICY_PROPERTIES.get(resource.type)
    if spec is not None and spec[0] in inputs:
        prop = spec[0]
        if isinstance(inputs[prop], str):
            inputs[prop] = json.loads(inputs[prop])
        documents.append(prop)
    if resource.type == PROVIDER_TYPE:
        inputs = {key: _decoded_provider_input(value) for key, value in inputs.items()}
    try:
        normalized = normalize(inputs, root)
    except TypeError as error:
        raise TypeError(f"{resource.type} {resource.name}: {error}") from None
    return {
        "type": resource.type,
        "name": resource.name,
        "parent": resource.parent_name or None,
        "account": resource.account_id,
        "region": resource.region,
        "custom": resource.custom,
        # Options a reviewer must see change: protection, the order of a replacement, what a
        # delete leaves in the cloud, an import of an existing resource, inputs the engine
        # ignores, and what the resource waits for.
        "protect": resource.protect,
        "deleteBeforeReplace": resource.delete_before_replace,
        "retainOnDelete": resource.retain_on_delete,
        "importId": resource.import_id,
        "ignoreChanges": sorted(resource.ignore_changes),
        "dependsOn": sorted({key_of_urn(urn) for urn in resource.dependencies}),
        "documents": documents,
        "inputs": normalized,
    }


def build_inventory(run: OfflineRun, root: Path = ROOT) -> dict[str, Any]:
    """The whole inventory of one offline run; raises ValueError on a duplicate key."""
    resources: dict[str, Any] = {}
    for resource in run.resources:
        key = resource_key(resource.type, resource.name)
        if key in resources:
            raise ValueError(f"two resources share the inventory key {key!r}")
        resources[key] = inventory_entry(resource, root)
    return {"format": FORMAT, "stack": run.stack, "resources": resources}


def render_inventory(inventory: Mapping[str, Any]) -> str:
    """The file's text: sorted keys and a fixed indent, so equal plans give equal bytes."""
    return json.dumps(inventory, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_inventory(run: OfflineRun, out_dir: Path, root: Path = ROOT) -> Path:
    """Write `resources.json` for `run` into `out_dir` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / INVENTORY_FILE
    path.write_text(render_inventory(build_inventory(run, root)), encoding="utf-8")
    return path
