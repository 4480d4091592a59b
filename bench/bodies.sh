# The request bodies of the batch loads and the wrk script that posts one, shared by bench/run
# and bench/callgrind so both measure the same requests. Sourced, not run.

# Writes a POST /v1/enrich body with the addresses PREFIX.(i/65536).(i/256%256).(i%256)
# for i in [FROM, FROM+COUNT) in the order given by SEED (0: ascending).
batch_body() {
  local prefix=$1 from=$2 count=$3 seed=$4 modulo=${5:-0}
  awk -v p="$prefix" -v from="$from" -v n="$count" -v seed="$seed" -v m="$modulo" 'BEGIN {
    for (j = 0; j < n; j++) { i = from + j; if (m > 0) i %= m; ip[j] = sprintf("%d.%d.%d.%d", p, int(i / 65536), int(i / 256) % 256, i % 256) }
    if (seed > 0) { srand(seed); for (j = n - 1; j > 0; j--) { k = int(rand() * (j + 1)); t = ip[j]; ip[j] = ip[k]; ip[k] = t } }
    printf "{\"max_wait_ms\":30000,\"observables\":["
    for (j = 0; j < n; j++) printf "%s\"%s\"", (j ? "," : ""), ip[j]
    printf "]}"
  }'
}

# Writes a POST /v1/enrich body of COUNT observables of every type: observable i (for i in
# [FROM, FROM+COUNT), taken as BASE + i % MODULO when MODULO > 0, in the order given by SEED)
# is an IPv4 address (24.0.0.0 onwards), a domain, a URL or a file hash (MD5, SHA-1 or SHA-256
# in turn) as i % 4 is 0, 1, 2 or 3; TYPES (default "ip domain url file") keeps only those
# types (then COUNT of them, skipping the others).
mixed_body() {
  local from=$1 count=$2 seed=$3 modulo=${4:-0} base=${5:-0} types=${6:-ip domain url file}
  awk -v from="$from" -v n="$count" -v seed="$seed" -v m="$modulo" -v base="$base" -v types="$types" '
    function hex(i, k) { return sprintf("%08x", (i * 2654435761 + k * 40503) % 2147483647) }
    function obs(i, t, h) {
      t = i % 4
      if (t == 0) return sprintf("24.%d.%d.%d", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
      if (t == 1) return sprintf("host-%d.bench-%d.com", i, i % 89)
      if (t == 2) return sprintf("https://www.bench-%d.com/path/%d?q=%d", i % 97, i, i)
      h = hex(i, 1) hex(i, 2) hex(i, 3) hex(i, 4) hex(i, 5) hex(i, 6) hex(i, 7) hex(i, 8)
      return substr(h, 1, (int(i / 4) % 3 == 0) ? 32 : (int(i / 4) % 3 == 1) ? 40 : 64)
    }
    BEGIN {
      split("ip domain url file", names, " "); split(types, keep, " ")
      for (k in keep) wanted[keep[k]] = 1
      c = 0
      for (j = 0; c < n; j++) {
        i = from + j; if (m > 0) i = base + i % m
        if (names[i % 4 + 1] in wanted) item[c++] = obs(i)
      }
      if (seed > 0) { srand(seed); for (j = n - 1; j > 0; j--) { k = int(rand() * (j + 1)); t = item[j]; item[j] = item[k]; item[k] = t } }
      printf "{\"max_wait_ms\":30000,\"observables\":["
      for (j = 0; j < n; j++) printf "%s\"%s\"", (j ? "," : ""), item[j]
      printf "]}"
    }'
}

# Writes a POST /v1/enrich body of 1,000 entries mixing statuses: 700 IPv4 addresses of the
# all-hits batch (23.0.0.0 onwards), 100 IPv6 addresses (2a00:1450::N), 100 not routable
# (10.0.0.N, 192.168.1.N, host-N.local, printer-N.localhost in turn) and 100 invalid strings.
status_mix_body() {
  awk 'BEGIN {
    for (j = 0; j < 1000; j++) {
      r = j % 10
      if (r < 7) item[j] = sprintf("23.%d.%d.%d", 0, int(j / 256) % 256, j % 256)
      else if (r == 7) item[j] = sprintf("2a00:1450::%x", j)
      else if (r == 8) { k = int(j / 10) % 4
        item[j] = k == 0 ? sprintf("10.0.%d.%d", int(j / 256), j % 256) : k == 1 ? sprintf("192.168.%d.%d", int(j / 256), j % 256) : k == 2 ? sprintf("host-%d.local", j) : sprintf("printer-%d.localhost", j) }
      else item[j] = sprintf("not an observable #%d", j)
    }
    printf "{\"max_wait_ms\":30000,\"observables\":["
    for (j = 0; j < 1000; j++) printf "%s\"%s\"", (j ? "," : ""), item[j]
    printf "]}"
  }'
}

# Writes a wrk script posting BODY_FILE (relative to the working directory) to /v1/enrich,
# to SCRIPT_FILE.
post_script() {
  cat >"$2" <<EOF
local f = assert(io.open("$PWD/$1", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
EOF
}
