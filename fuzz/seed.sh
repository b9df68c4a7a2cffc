#!/usr/bin/env bash
# Builds the seed corpus of the `validate` fuzz target into fuzz/seeds/ (committed): every
# example and every built-in module (called as a local module) packed into the input format of
# fuzz/src/lib.rs, one project using each kind of file, and hostile cases. Run it again after
# changing examples/ or modules/; it rewrites the folder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seeds="$root/fuzz/seeds"
rm -rf "$seeds"
mkdir -p "$seeds"

# pack DIR: DIR/swarmform.toml, then every other file below DIR (README.md left out), each after
# a `--- PATH` line. PREFIX puts the other files under a folder of the project.
pack() {
    local dir=$1 prefix=${2:-}
    cat "$dir/swarmform.toml"
    (cd "$dir" && find . -type f ! -name swarmform.toml ! -name README.md | sed 's|^\./||' | LC_ALL=C sort) |
        while read -r file; do
            printf '\n--- %s%s\n' "$prefix" "$file"
            cat "$dir/$file"
        done
}

for example in "$root"/examples/*/; do
    pack "$example" > "$seeds/example-$(basename "$example")"
done

# Each built-in module called as a local one (modules/m/), with the inputs it requires.
manager='[hosts.node1]
address = "192.0.2.11"
role = "manager"

[hosts.node2]
address = "192.0.2.12"
role = "worker"
'
for module in "$root"/modules/*/; do
    name=$(basename "$module")
    {
        printf '%s\n[networks.proxy]\n\n[modules.m]\nsource = "m"\n\n[modules.m.inputs]\n' "$manager"
        case $name in
            registry) printf 'node = "node1"\n' ;;
            traefik) printf 'network = "proxy"\n' ;;
        esac
        (cd "$module" && find . -type f ! -name README.md | sed 's|^\./||' | LC_ALL=C sort) |
            while read -r file; do
                printf '\n--- modules/m/%s\n' "$file"
                cat "$module/$file"
            done
    } > "$seeds/module-$name"
done

# hostile NAME: the standard input is the seed.
hostile() { cat > "$seeds/hostile-$1"; }

# One project with every kind of file: an include, a local module, a template, a compose file,
# a secret file, a config template, a file rendered onto the hosts, generated TLS material.
hostile every-file <<'EOF'
include = ["hosts.toml"]

[daemon.tcp]
tls = { generate = true }

[daemon.json]
log-driver = "json-file"
log-opts = { max-size = "10m" }

[variables.tag]
default = "1.25"

[variables.password]
default = "hunter2"
sensitive = true

[networks.web]
subnet = "10.0.10.0/24"

[secrets.s]
file = "secrets/s"

[configs.c]
template = "templates/c.conf.hbs"
vars = { who = "{{var.tag}}" }

[files.motd]
path = "/etc/motd"
content = "welcome {{var.tag}}\n"

[stacks.app]
compose = "stacks/app.yml"
depends_on = ["secret.s"]

[stacks.web]
template = "templates/t.yml.hbs"
vars = { image = "nginx:{{var.tag}}", replicas = 2 }

[stacks.web.health]
http = "http://{{hosts.node1.address}}:8080/"

[modules.m]
source = "m"
inputs = { port = 9000 }

--- hosts.toml
[ssh]
user = "root"

[hosts.node1]
address = "192.0.2.11"
role = "manager"

[hosts.node2]
address = "192.0.2.12"
role = "worker"
labels = { zone = "a" }

--- modules/m/module.toml
[inputs.port]
default = 8080

[stacks.m]
template = "m.yml.hbs"

--- modules/m/m.yml.hbs
version: "3.8"
services:
  m:
    image: busybox
    ports: ["{{inputs.port}}:80"]

--- templates/t.yml.hbs
version: "3.8"
services:
  web:
    image: {{json vars.image}}
    deploy:
      replicas: {{vars.replicas}}
{{#each hosts}}
    # {{@key}} {{this.address}}
{{/each}}
networks:
  web:
    external: true
    name: {{json networks.web}}

--- templates/c.conf.hbs
hello {{vars.who}}

--- stacks/app.yml
version: "3.8"
services:
  app:
    image: busybox
    secrets: [s]
secrets:
  s:
    external: true

--- secrets/s
hunter3
EOF

# The finding of issue 12: a YAML error at a multi-byte character (validate exited 101).
one='[hosts.node1]
address = "192.0.2.11"
role = "manager"

[stacks.app]
compose = "stacks/app.yml"
'
for character in é € 😀; do
    printf '%s\n--- stacks/app.yml\nversion: "3.8"\nservices:\n  web:\n    image: "nginx" %s\n' "$one" "$character" > "$seeds/hostile-yaml-error-at-$(printf '%s' "$character" | wc -c)-byte-character"
done
printf '%s\n--- stacks/app.yml\nversion: "3.8"\r\nservices:\r\n  web:\r\n    image: "nginx" é\r\n' "$one" | hostile yaml-error-on-crlf-line
printf '%s\n--- stacks/app.yml\n\xef\xbb\xbfversion: "3.8"\nservices: [é\n' "$one" | hostile yaml-after-byte-order-mark
printf '%s\n--- stacks/app.yml\nservices:\n  web:\n    image: "ngin\xc3\xa9' "$one" | hostile yaml-error-at-end-of-file
printf '%s\n--- stacks/app.yml\nservices:\n  web:\n    image: "\xff\xfe"\n' "$one" | hostile yaml-invalid-utf8
printf '%s\n--- stacks/app.yml\n' "$one" | hostile yaml-empty
printf '%s\n--- stacks/app.yml\na: &a [1, 2]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n' "$one" | hostile yaml-aliases
printf '%s\n--- stacks/app.yml\nservices:\n\tweb:\n  image: x\n' "$one" | hostile yaml-tab
: | hostile empty-config
printf '[hosts.node1]\naddress = "\xff\xfe"\nrole = "manager"\n' | hostile toml-invalid-utf8
printf '[hosts.node1]\naddress = "192.0.2.11\0"\nrole = "manager"\n' | hostile toml-nul
printf '[hosts."nöde"]\naddress = "192.0.2.11"\nrole = "manager"\n\n[hosts.node2]\naddress = "😀"\n' | hostile toml-unicode-names
printf '%s\n[swarm]\nbootstrap = "node1"\ndefault_addr_pool = ["10.0.0.0/99"]\ncert_expiry = "99999999999999999999h"\n\n[networks.n]\nsubnet = "10.0.0.0/33"\n\n[registries.r]\nnode = "node1"\nport = 99999\n' "$one" | hostile toml-out-of-range

# Deep nesting: TOML arrays and inline tables, YAML flow and block lists, handlebars blocks.
deep=200
{
    printf '%s\n[stacks.app.vars]\nx = ' "$one"
    printf '[%.0s' $(seq $deep)
    printf ']%.0s' $(seq $deep)
    printf '\ny = '
    printf '{ a = %.0s' $(seq $deep)
    printf '1'
    printf ' }%.0s' $(seq $deep)
    printf '\n'
} | hostile deep-toml
{
    printf '%s\n--- stacks/app.yml\nservices: ' "$one"
    printf '[%.0s' $(seq $deep)
    printf ']%.0s' $(seq $deep)
    printf '\n'
} | hostile deep-yaml-flow
{
    printf '%s\n--- stacks/app.yml\nservices:\n' "$one"
    for depth in $(seq $deep); do
        printf '%*s- \n' "$depth" ''
    done
} | hostile deep-yaml-block
{
    printf '%s' "${one/compose = \"stacks\/app.yml\"/template = \"templates/t.yml.hbs\"}"
    printf '\n--- templates/t.yml.hbs\nversion: "3.8"\n'
    printf '{{#if true}}%.0s' $(seq $deep)
    printf 'x'
    printf '{{/if}}%.0s' $(seq $deep)
    printf '\n'
} | hostile deep-handlebars

# A dependency cycle, a template error at a multi-byte character, a bad include.
printf '%s\n[stacks.b]\ncompose = "stacks/app.yml"\ndepends_on = ["stack.app"]\n\n[stacks.app.depends_on]\n' "$one" | hostile cycle-malformed
printf '[hosts.node1]\naddress = "192.0.2.11"\nrole = "manager"\n\n[stacks.a]\ncompose = "stacks/app.yml"\ndepends_on = ["stack.b"]\n\n[stacks.b]\ncompose = "stacks/app.yml"\ndepends_on = ["stack.a"]\n\n--- stacks/app.yml\nversion: "3.8"\nservices: {}\n' | hostile cycle
printf '%s' "${one/compose = \"stacks\/app.yml\"/template = \"templates/t.yml.hbs\"}" > "$seeds/hostile-template-error"
printf '\n--- templates/t.yml.hbs\n# ééé {{#each}}\n' >> "$seeds/hostile-template-error"
printf 'include = ["hosts.toml"]\n\n--- hosts.toml\nnot toml at all é\n' | hostile include-not-toml

echo "$(find "$seeds" -type f | wc -l) seeds in $seeds"
