"""infra/k8s: every kustomization renders, validates against the Kubernetes schemas offline, and
keeps the deployment rules docs/deploy.md states (probes, resources, non-root, secrets)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr
from typer.testing import CliRunner

from salescoach_cli.main import app as cli_app
from salescoach_core.settings import ENV_PREFIX, Settings
from tests.infra.kustomize import (
    Resource,
    UnsupportedKustomizationError,
    containers,
    pod_spec,
    render,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "infra" / "k8s"
KUSTOMIZATIONS = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))
OVERLAYS = [p for p in KUSTOMIZATIONS if "overlays" in p.parts]
# The oldest Kubernetes the manifests claim (docs/deploy.md) and the newest schemas shipped.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
MIGRATE_SELECTOR = ("app.kubernetes.io/component", "migrate")


def _id(path: Path) -> str:
    return str(path.relative_to(K8S))


def _one(resources: list[Resource], kind: str, component: str) -> Resource:
    found = [
        r
        for r in resources
        if r["kind"] == kind
        and r["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"expected one {kind} of component {component}, found {len(found)}"
    return found[0]


def _env_names(setting: str) -> set[str]:
    """The environment variables a Settings field is read from."""
    alias = Settings.model_fields[setting].validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return {str(choice).upper() for choice in choices}
    return {f"{ENV_PREFIX}{setting}".upper()}


SETTING_OF_ENV = {env: name for name in Settings.model_fields for env in _env_names(name)}
SECRET_ENVS = {
    env
    for name, field in Settings.model_fields.items()
    if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
    for env in _env_names(name)
}


def test_the_secret_settings_are_known() -> None:
    # What the other tests rely on: the secret settings are read off the Settings class.
    assert {"DATABASE_URL", "SALESCOACH_SF_CLIENT_SECRET", "SALESCOACH_SF_REFRESH_TOKEN"} <= SECRET_ENVS
    assert "SALESCOACH_SF_CLIENT_ID" not in SECRET_ENVS


def test_there_is_a_base_and_an_overlay() -> None:
    assert K8S / "base" in KUSTOMIZATIONS
    assert OVERLAYS, "no overlay under infra/k8s/overlays"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_every_resource_validates_against_the_kubernetes_schema(directory: Path, version: str) -> None:
    resources = render(directory)
    assert resources
    for resource in resources:
        # strict: an unknown field (a typo, a field of a newer API) is an error, not ignored.
        kubernetes_validate.validate(resource, version, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_the_renderer_agrees_with_kubectl_kustomize(directory: Path) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True, timeout=60
    ).stdout

    def key(resource: Resource) -> tuple[str, str]:
        return resource["kind"], resource["metadata"]["name"]

    assert sorted(render(directory), key=key) == sorted(yaml.safe_load_all(built), key=key)


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\nconfigMapGenerator:\n  - name: x\n    literals: [A=1]\n"
    )
    with pytest.raises(UnsupportedKustomizationError, match="configMapGenerator"):
        render(tmp_path)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_the_api_probes_its_health_routes_on_the_port_it_serves(directory: Path) -> None:
    resources = render(directory)
    api = _one(resources, "Deployment", "api")
    (container,) = pod_spec(api)["containers"]  # type: ignore[index]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # The command sets no --port: the API listens on SALESCOACH_API_PORT, else the default.
    config = _config(resources)
    served = int(config.get("SALESCOACH_API_PORT", Settings.model_fields["api_port"].default))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        port = container[probe]["httpGet"]["port"]
        assert ports.get(port, port) == served, probe
    service = _one(resources, "Service", "api")
    assert all(ports.get(p["targetPort"], p["targetPort"]) == served for p in service["spec"]["ports"])


def _config(resources: list[Resource]) -> dict[str, str]:
    (config,) = [r for r in resources if r["kind"] == "ConfigMap"]
    return dict(config["data"])


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_every_container_requests_and_limits_cpu_and_memory(directory: Path) -> None:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}

    def quantity(value: str | int) -> float:
        number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()  # type: ignore[union-attr]
        return float(number) * units[unit]

    workloads = [r for r in render(directory) if containers(r)]
    assert {r["kind"] for r in workloads} == {"Deployment", "Job"}
    for workload in workloads:
        for container in containers(workload):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, (workload["metadata"]["name"], container["name"], resource)


def _dockerfile_uid() -> int:
    match = re.search(r"useradd .*--uid (\d+)", (ROOT / "infra" / "Dockerfile").read_text())
    assert match, "infra/Dockerfile creates no user with a fixed uid"
    return int(match.group(1))


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_every_pod_runs_as_the_images_user_read_only_and_without_capabilities(directory: Path) -> None:
    for workload in render(directory):
        spec = pod_spec(workload)
        if spec is None:
            continue
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == _dockerfile_uid()
        assert spec["automountServiceAccountToken"] is False
        for container in containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["capabilities"]["drop"] == ["ALL"], container["name"]
            assert "privileged" not in context, container["name"]
            assert "runAsUser" not in context, container["name"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_config_maps_hold_only_known_non_secret_settings(directory: Path) -> None:
    config = _config(render(directory))
    unknown = set(config) - set(SETTING_OF_ENV)
    assert not unknown, f"not settings (typo?): {sorted(unknown)}"
    assert not set(config) & SECRET_ENVS
    for name, value in config.items():
        # A URL with credentials in it is a secret whatever its key is called.
        assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), name


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_secret_settings_come_only_from_secret_refs(directory: Path) -> None:
    for workload in render(directory):
        for container in containers(workload):
            env = {e["name"]: e for e in container.get("env", [])}
            database = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert not database.get("optional", False), container["name"]
            for name in SECRET_ENVS & set(env):
                assert "value" not in env[name], f"{container['name']}: {name} is a literal"
                assert env[name]["valueFrom"]["secretKeyRef"]["key"] == name
            for source in container.get("envFrom", []):
                assert set(source) == {"configMapRef"}, "secrets come by key, not a whole Secret"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_only_the_sync_worker_gets_salesforce_secrets(directory: Path) -> None:
    resources = render(directory)
    sf_secrets = {e for e in SECRET_ENVS if e.startswith("SALESCOACH_SF_")}
    api = _one(resources, "Deployment", "api")
    job = _one(resources, "Job", "migrate")
    for workload in (api, job):
        for container in containers(workload):
            assert not {e["name"] for e in container.get("env", [])} & sf_secrets
    (sync,) = pod_spec(_one(resources, "Deployment", "sync"))["containers"]  # type: ignore[index]
    assert sf_secrets <= {e["name"] for e in sync["env"]}


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_each_workload_runs_its_salescoach_command(directory: Path) -> None:
    resources = render(directory)
    commands = {
        "api": ["salescoach", "api", "serve", "--host", "0.0.0.0"],
        "sync": ["salescoach", "sync", "worker"],
    }
    for component, command in commands.items():
        (container,) = pod_spec(_one(resources, "Deployment", component))["containers"]  # type: ignore[index]
        assert container["command"] == command
    (migrate,) = pod_spec(_one(resources, "Job", "migrate"))["containers"]  # type: ignore[index]
    assert migrate["command"] == ["salescoach", "db", "upgrade"]


@pytest.mark.parametrize(
    "argv", [["api", "serve"], ["sync", "worker"], ["db", "upgrade"], ["db", "current"]], ids=" ".join
)
def test_the_commands_the_manifests_run_exist(argv: list[str]) -> None:
    result = CliRunner().invoke(cli_app, [*argv, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_the_hpa_service_and_pdb_target_the_api_pods(directory: Path) -> None:
    resources = render(directory)
    api = _one(resources, "Deployment", "api")
    sync = _one(resources, "Deployment", "sync")
    api_labels = api["spec"]["template"]["metadata"]["labels"]
    sync_labels = sync["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    service = _one(resources, "Service", "api")
    pdb = _one(resources, "PodDisruptionBudget", "api")
    for selector in (service["spec"]["selector"], pdb["spec"]["selector"]["matchLabels"]):
        assert selects(selector, api_labels)
        assert not selects(selector, sync_labels)
    assert selects(api["spec"]["selector"]["matchLabels"], api_labels)

    hpa = _one(resources, "HorizontalPodAutoscaler", "api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", api["metadata"]["name"])
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    # The HPA owns the count: a replicas field would reset it on every apply.
    assert "replicas" not in api["spec"]
    # A PDB that needs every pod the HPA may leave would block node drains.
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=_id)
def test_the_migration_job_can_be_applied_alone_and_new_workers_wait_for_it(directory: Path) -> None:
    resources = render(directory)
    key, value = MIGRATE_SELECTOR
    selected = [r for r in resources if r["metadata"].get("labels", {}).get(key) == value]
    # `kubectl apply -k DIR -l app.kubernetes.io/component=migrate` applies the Job and nothing else.
    assert [r["kind"] for r in selected] == ["Job"]
    (migrate,) = containers(selected[0])
    # Applied before the ConfigMap exists on a first install: it must not need it.
    assert "envFrom" not in migrate
    sync = _one(resources, "Deployment", "sync")
    (wait,) = pod_spec(sync)["initContainers"]  # type: ignore[index]
    assert "salescoach db current" in " ".join(wait["command"])
    (worker,) = pod_spec(sync)["containers"]  # type: ignore[index]
    assert wait["image"] == worker["image"]


@pytest.mark.parametrize("directory", OVERLAYS, ids=_id)
def test_an_overlay_runs_one_image_in_its_namespace(directory: Path) -> None:
    resources = render(directory)
    images = {c["image"] for r in resources for c in containers(r)}
    assert len(images) == 1, images
    assert images != {"salescoach"}, "the overlay names no image"
    namespaces = {r["metadata"].get("namespace") for r in resources}
    assert len(namespaces) == 1, namespaces
    assert None not in namespaces
