"""Generates the benchmark environment: NAMESPACES namespaces, each with PER_KIND Services,
TLS Secrets and Ingresses (each Ingress routes to its Service and terminates TLS with its
Secret). Every Secret has its own random bytes, as real certificates do, so compressed sizes
compare honestly between tools. Usage: generate.py OUT_DIR NAMESPACES PER_KIND"""
import base64, os, sys
out, namespaces, per_kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
for n in range(namespaces):
    ns = f"bench-{n:03d}"
    docs = [f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"]
    for i in range(per_kind):
        crt = base64.b64encode(os.urandom(1200)).decode()
        key = base64.b64encode(os.urandom(240)).decode()
        docs.append(f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: {ns}}}\n"
                    f"spec:\n  selector: {{app: app-{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n")
        docs.append(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: tls-{i}, namespace: {ns}}}\ntype: kubernetes.io/tls\n"
                    f"data: {{tls.crt: {crt}, tls.key: {key}}}\n")
        docs.append(f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: ing-{i}, namespace: {ns}}}\n"
                    f"spec:\n  tls: [{{hosts: [h{i}.{ns}.example.com], secretName: tls-{i}}}]\n"
                    f"  rules:\n  - host: h{i}.{ns}.example.com\n    http:\n      paths:\n"
                    f"      - {{path: /, pathType: Prefix, backend: {{service: {{name: svc-{i}, port: {{number: 80}}}}}}}}\n")
    with open(os.path.join(out, f"{ns}.yaml"), "w") as f:
        f.write("---\n".join(docs))
