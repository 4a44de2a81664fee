"""Parses the deploy/ YAML files and prints, as one JSON line, the facts the Swift test
(DeployFilesTests) checks: every document parses, and the fields an admin relies on are there."""
import json
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

print(json.dumps(facts))
