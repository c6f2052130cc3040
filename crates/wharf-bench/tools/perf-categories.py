#!/usr/bin/env python3
"""Flat perf profile of one process, summed by thread name and by rough category.

    python3 crates/wharf-bench/tools/perf-categories.py perf.data
"""
import re, subprocess, sys
data = sys.argv[1]
cats = [('kernel', r'^\[k\]'), ('wharf_api::apply (managedFields/SSA)', r'wharf_api::apply'), ('other wharf code', r'wharf'),
        ('sqlite', r'sqlite|^\[\.\] wal[A-Z]|pcache|yy_|rusqlite|balance_'), ('TLS (ring/rustls)', r'ring_core|ring::|rustls'),
        ('serde_json/indexmap', r'serde_json|indexmap|serde_core'), ('malloc/free/memcpy/memcmp', r'malloc|free|_int_|memmove|memcpy|memcmp|realloc|unlink_chunk|memset|__rdl_alloc|__rust_alloc|__rust_dealloc|alloc_shim|drop_in_place'),
        ('btree/hash/string', r'btree|hash|sip|String|str::'), ('hyper/h2/http', r'hyper|h2::|http::'), ('tokio', r'tokio')]
out = subprocess.run(['perf', 'report', '-i', data, '--no-children', '--sort', 'comm,sym', '-q'], capture_output=True, text=True).stdout
tot = {}
for line in out.splitlines():
    m = re.match(r'\s*([\d.]+)%\s+(\S+)\s+(.*)', line)
    if not m: continue
    p, comm, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    cat = next((c for c, rx in cats if re.search(rx, sym)), 'other')
    tot.setdefault(comm, {}).setdefault(cat, 0.0); tot[comm][cat] += p
for comm, d in tot.items():
    print(f'{comm}: {sum(d.values()):.1f}% of samples')
    for c, v in sorted(d.items(), key=lambda x: -x[1]):
        if v >= 0.5: print(f'   {c:40s} {v:5.1f}%')
