"""Parses the deploy/ YAML files (Kubernetes, Traefik, the ingress annotations and the compose
trial) and prints, as one JSON line, the facts the Swift test (DeployFilesTests) checks: every
document parses, and the fields an admin relies on are there."""
import json
import os
import sys

import yaml

root = sys.argv[1]
facts = {}

with open(f"{root}/deploy/kubernetes/portcullis.yaml") as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
kinds = {d["kind"]: d for d in docs}
facts["kinds"] = sorted(kinds)
deployment = kinds.get("Deployment", {})
spec = deployment.get("spec", {})
pod = spec.get("template", {}).get("spec", {})
container = (pod.get("containers") or [{}])[0]
facts["replicas"] = spec.get("replicas")
facts["readiness"] = container.get("readinessProbe", {}).get("httpGet", {}).get("path")
facts["liveness"] = container.get("livenessProbe", {}).get("httpGet", {}).get("path")
facts["requests"] = sorted(container.get("resources", {}).get("requests", {}))
facts["readOnlyRoot"] = container.get("securityContext", {}).get("readOnlyRootFilesystem")
facts["runAsNonRoot"] = pod.get("securityContext", {}).get("runAsNonRoot")
facts["secretVolume"] = any("secret" in v for v in pod.get("volumes", []))
facts["configMapVolume"] = any("configMap" in v for v in pod.get("volumes", []))
facts["env"] = sorted(e["name"] for e in container.get("env", []))
facts["pdbMinAvailable"] = kinds.get("PodDisruptionBudget", {}).get("spec", {}).get("minAvailable")
facts["configJSON"] = kinds.get("ConfigMap", {}).get("data", {}).get("config.json")

with open(f"{root}/deploy/traefik/dynamic.yml") as f:
    traefik = yaml.safe_load(f)
auth = traefik["http"]["middlewares"]["portcullis"]["forwardAuth"]
facts["traefikAddress"] = auth["address"]
facts["traefikHeaders"] = auth["authResponseHeaders"]

with open(f"{root}/deploy/nginx/ingress-annotations.yaml") as f:
    ingress = yaml.safe_load(f)
facts["ingressAuthURL"] = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-url"]

# deploy/compose.yaml: the local scale-out trial. Services are told apart by what they run
# (the image's entrypoint is the portcullis executable), so a renamed service is still found.
with open(f"{root}/deploy/compose.yaml") as f:
    compose = yaml.safe_load(f)
services = compose.get("services", {})
facts["composeServices"] = sorted(services)


def command(service):
    value = service.get("command") or []
    return value.split() if isinstance(value, str) else [str(part) for part in value]


def option(arguments, name):
    """The value after `name` in a command line, or None."""
    return arguments[arguments.index(name) + 1] if name in arguments[:-1] else None


def host_path(service, container_path):
    """The repository-relative file a bind mount puts at `container_path`, or None (mount
    sources are relative to deploy/, the compose file's folder)."""
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            parts = volume.split(":")
            if len(parts) < 2:
                continue
            source, target = parts[0], parts[1]
        target = target.rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            return os.path.normpath(os.path.join("deploy", source, container_path[len(target):].lstrip("/")))
    return None


def healthcheck(service):
    """The health check's command as one line, or None."""
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(str(part) for part in test) if isinstance(test, list) else test


def environment_names(service):
    """The environment variables a service sets (names only: the values may be passwords)."""
    value = service.get("environment") or {}
    return sorted(value) if isinstance(value, dict) else sorted(entry.split("=", 1)[0] for entry in value)


facts["composeNetworkModes"] = {name: s.get("network_mode") for name, s in services.items()}
facts["composeHealthchecks"] = {name: healthcheck(s) for name, s in services.items()}
gateways = []
for name, service in sorted(services.items()):
    arguments = command(service)
    if arguments[:1] != ["serve"]:
        continue
    config = option(arguments, "--config")
    build = service.get("build")
    gateways.append({
        "name": name,
        "image": service.get("image"),
        "build": build,
        "buildKey": json.dumps(build, sort_keys=True) if build is not None else None,
        "dockerfile": build.get("dockerfile") if isinstance(build, dict) else None,
        "networkMode": service.get("network_mode"),
        "healthcheck": healthcheck(service),
        "command": arguments,
        "config": config,
        "configFile": host_path(service, config) if config else None,
        "dependsOn": sorted(service.get("depends_on") or []),
    })
facts["composeGateways"] = gateways
postgres = {name: s for name, s in services.items() if str(s.get("image", "")).startswith("postgres")}
facts["composePostgres"] = [
    {"name": name, "image": s.get("image"), "command": command(s), "environment": environment_names(s)}
    for name, s in sorted(postgres.items())
]
idps = [(name, s) for name, s in sorted(services.items()) if command(s)[:1] == ["dev-idp"]]
facts["composeDevIdP"] = [
    {"name": name, "command": command(s), "port": option(command(s), "--port"),
     "directoryFile": host_path(s, option(command(s), "--directory")) if option(command(s), "--directory") else None}
    for name, s in idps
]
facts["composeEcho"] = [
    {"name": name, "command": command(s), "port": option(command(s), "--port")}
    for name, s in sorted(services.items()) if command(s)[:1] == ["echo-upstream"]
]

print(json.dumps(facts))
