"""The production topology's files hold together: the image runs unprivileged from a multi-stage build,
compose wires web, worker, exactly one beat, a migration and the three services, and the Kubernetes
manifests have probes, resources, non-root security contexts, one beat, autoscalers aimed at real
Deployments, and env drawn from the ConfigMap and Secret that exist. No container engine runs here, so
this is checked on the files themselves (deploy/topology_check.py runs the same topology as processes)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
IMAGE = "registry.example.org/redline:1.0.0"


def _k8s_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _k8s_documents() if d["kind"] == kind}


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def _workloads() -> list[dict[str, Any]]:
    return [*_of_kind("Deployment").values(), *_of_kind("Job").values()]


def test_the_kustomization_lists_every_manifest_and_they_all_parse():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    kinds = sorted(d["kind"] for d in _k8s_documents())
    expected = ["ConfigMap", "Secret", "PersistentVolumeClaim", "Job", "Service"]
    assert kinds == sorted([*expected, *["Deployment"] * 3, *["HorizontalPodAutoscaler"] * 2])


def test_web_and_worker_have_liveness_and_readiness_probes_on_the_health_endpoints():
    deployments = _of_kind("Deployment")
    for name in ("redline-web", "redline-worker"):
        [container] = _containers(deployments[name])
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        port_names = {p["name"] for p in container["ports"]}
        assert container["readinessProbe"]["httpGet"]["port"] in port_names
        # A readiness timeout above the database connect timeout (5 s), so a slow database reads as down.
        assert container["readinessProbe"]["timeoutSeconds"] > 5


def test_every_container_has_resources_and_runs_as_non_root_without_privileges():
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        for container in pod["containers"]:
            name = f"{workload['metadata']['name']}/{container['name']}"
            assert container["resources"]["requests"].keys() >= {"cpu", "memory"}, name
            assert container["resources"]["limits"].keys() >= {"cpu", "memory"}, name
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            # A read-only root needs a writable /tmp.
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), name


def test_there_is_exactly_one_beat_recreated_never_rolled_and_never_autoscaled():
    deployments = _of_kind("Deployment")
    beats = [d for d in deployments.values() if "beat" in _containers(d)[0]["command"]]
    assert [b["metadata"]["name"] for b in beats] == ["redline-beat"]
    assert beats[0]["spec"]["replicas"] == 1
    assert beats[0]["spec"]["strategy"] == {"type": "Recreate"}
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in _of_kind("HorizontalPodAutoscaler").values()}
    assert "redline-beat" not in targets


def test_autoscalers_target_the_web_and_worker_deployments_that_exist():
    deployments = _of_kind("Deployment")
    hpas = _of_kind("HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}
    assert targets == {"redline-web", "redline-worker"}
    for hpa in hpas.values():
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments
        assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_env_comes_from_the_configmap_and_secret_that_exist_and_the_secret_holds_no_values():
    configmaps, secrets = _of_kind("ConfigMap"), _of_kind("Secret")
    for workload in _workloads():
        for container in _containers(workload):
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                else:
                    assert source["secretRef"]["name"] in secrets
    [secret] = secrets.values()
    assert "data" not in secret
    assert secret["stringData"], "the Secret names the keys the application reads"
    assert set(secret["stringData"].values()) == {""}  # names only: values come from a secret store
    [config] = configmaps.values()
    assert config["data"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert not set(config["data"]) & set(secret["stringData"])


def test_every_workload_and_compose_service_runs_the_same_image():
    images = {c["image"] for w in _workloads() for c in _containers(w)}
    assert images == {IMAGE}
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app_services = ("migrate", "web", "worker", "beat")
    assert {compose["services"][s]["image"] for s in app_services} == {IMAGE}


def test_the_service_and_the_migration_job_point_at_what_exists():
    [service] = _of_kind("Service").values()
    web = _of_kind("Deployment")["redline-web"]
    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in _containers(web)[0]["ports"]}
    [job] = _of_kind("Job").values()
    assert _containers(job)[0]["command"][-2:] == ["migrate", "--noinput"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    claims = _of_kind("PersistentVolumeClaim")
    for workload in _workloads():
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_compose_has_web_worker_one_beat_a_migration_and_the_three_services():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "postgres", "rabbitmq", "redis"}
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "beat" in services["beat"]["command"] and "worker" in services["worker"]["command"]
    assert services["web"]["command"][:3] == ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
    assert "/health/ready" in " ".join(services["web"]["healthcheck"]["test"])
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    env = services["web"]["environment"]
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert env["CELERY_BROKER_URL"].startswith("amqp://") and env["CACHE_URL"].startswith("redis://")
    # Secrets are interpolated from an env file, never written here.
    for key in ("DJANGO_SECRET_KEY", "REDLINE_AUDIT_SIGNING_KEY", "DATABASE_URL"):
        assert "${" in env[key], key


def test_the_dockerfile_is_multi_stage_and_runs_as_a_non_root_user():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.MULTILINE | re.IGNORECASE)
    assert len(stages) >= 2
    assert "--from=build" in text
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users, "the image must switch to an unprivileged user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "numeric, so Kubernetes' runAsNonRoot can verify it"
    pods = {w["spec"]["template"]["spec"]["securityContext"]["runAsUser"] for w in _workloads()}
    assert pods == {int(user)}
    assert '"deploy/gunicorn.conf.py"' in text


def _gunicorn_conf(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    for key in ("WEB_CONCURRENCY", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf", DEPLOY / "gunicorn.conf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_runs_sync_workers_sized_from_the_environment_or_the_cpus(monkeypatch):
    conf = _gunicorn_conf(monkeypatch)
    assert conf.worker_class == "sync"
    assert conf.workers >= 3  # 2 x CPUs + 1
    assert conf.graceful_timeout < conf.timeout + 30 and conf.max_requests_jitter > 0
    assert conf.forwarded_allow_ips == "127.0.0.1"
    formatter = conf.logconfig_dict["formatters"]["access_json"]["()"]
    assert formatter == "core.logging.GunicornAccessJsonFormatter"

    sized = _gunicorn_conf(monkeypatch, WEB_CONCURRENCY="3", GUNICORN_TIMEOUT="45")
    assert (sized.workers, sized.timeout) == (3, 45)
    # The web pods' grace period outlasts gunicorn's graceful shutdown.
    web = _of_kind("Deployment")["redline-web"]["spec"]["template"]["spec"]
    assert web["terminationGracePeriodSeconds"] > conf.graceful_timeout
