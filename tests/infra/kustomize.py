"""A small kustomize renderer for tests: the fields infra/k8s uses, and a refusal for any other,
so the manifests are rendered and checked where no kubectl or kustomize binary is installed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KUSTOMIZATION_FILE = "kustomization.yaml"
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "labels", "patches"}
# Where pod specs sit in the workload kinds infra/k8s uses.
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
}
CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


class UnsupportedKustomizationError(Exception):
    """The kustomization uses a field this renderer does not implement; kustomize would render
    it, so extend the renderer (and its comparison test) rather than skip it."""


def render(directory: Path) -> list[Resource]:
    """The resources `kustomize build directory` outputs (in file order, not kustomize's)."""
    spec = yaml.safe_load((directory / KUSTOMIZATION_FILE).read_text())
    unknown = set(spec) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomizationError(f"{directory}: {sorted(unknown)} not implemented")
    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(render(path))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    resources = [copy.deepcopy(r) for r in resources]
    for label_set in spec.get("labels", []):
        _add_labels(resources, label_set)
    for patch in spec.get("patches", []):
        _patch(resources, patch)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED_KINDS:
                resource["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        _set_image(resources, image)
    return resources


def pod_spec(resource: Resource) -> Resource | None:
    path = POD_SPEC_PATHS.get(resource["kind"])
    if path is None:
        return None
    node: Resource = resource
    for key in path:
        node = node[key]
    return node


def containers(resource: Resource) -> list[Resource]:
    """Init containers and containers of a workload; none for other kinds."""
    spec = pod_spec(resource)
    if spec is None:
        return []
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def _add_labels(resources: list[Resource], label_set: Resource) -> None:
    if label_set.get("includeSelectors") or label_set.get("includeTemplates"):
        raise UnsupportedKustomizationError("labels with includeSelectors/includeTemplates")
    for resource in resources:
        resource["metadata"].setdefault("labels", {}).update(label_set["pairs"])


def _patch(resources: list[Resource], patch: Resource) -> None:
    if set(patch) != {"target", "patch"} or set(patch["target"]) - {"kind", "name"}:
        raise UnsupportedKustomizationError(f"patch {patch}: only target kind/name with an inline patch")
    operations = yaml.safe_load(patch["patch"])
    if not isinstance(operations, list):
        raise UnsupportedKustomizationError("strategic-merge patches: only JSON 6902 operation lists")
    targets = [r for r in resources if _matches(r, patch["target"])]
    if not targets:
        raise ValueError(f"patch target {patch['target']} matches no resource")
    for resource in targets:
        for operation in operations:
            _apply_operation(resource, operation)


def _matches(resource: Resource, target: Resource) -> bool:
    identity = {"kind": resource["kind"], "name": resource["metadata"]["name"]}
    return all(identity[key] == value for key, value in target.items())


def _apply_operation(resource: Resource, operation: Resource) -> None:
    op = operation["op"]
    if op not in {"add", "replace", "remove"}:
        raise UnsupportedKustomizationError(f"JSON patch op {op!r}")
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in operation["path"].split("/")[1:]]
    node: Any = resource
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, operation["value"])
        elif op == "replace":
            node[index] = operation["value"]
        else:
            del node[index]
        return
    if op != "add" and last not in node:
        raise ValueError(f"{op} {operation['path']}: no such member")
    if op == "remove":
        del node[last]
    else:
        node[last] = operation["value"]


def _set_image(resources: list[Resource], image: Resource) -> None:
    if set(image) - {"name", "newName", "newTag", "digest"}:
        raise UnsupportedKustomizationError(f"image transform {image}")
    for resource in resources:
        for container in containers(resource):
            name, tag = _split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            else:
                new_tag = image.get("newTag", tag)
                container["image"] = f"{name}:{new_tag}" if new_tag else name


def _split_image(reference: str) -> tuple[str, str | None]:
    """`registry:5000/name:tag` -> (`registry:5000/name`, `tag`); a port is not a tag."""
    name, _, tail = reference.rpartition(":")
    if name and "/" not in tail:
        return name, tail
    return reference, None
