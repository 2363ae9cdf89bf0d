"""Writer outputs + key → data/eval/independent/tuning2 (a fourth tuning set, all of it fitted on)."""
import json, glob, os
OUT = '/work/main/data/eval/independent/tuning4'
key = json.load(open('/work/evalwork/t4/key.json'))
briefs = {}
for p in glob.glob('/work/evalwork/t4/briefs/*.json'):
    for b in json.load(open(p)):
        briefs[b['id']] = b
written = {}
for p in glob.glob('/work/evalwork/t4/out/*.jsonl'):
    for line in open(p, encoding='utf-8'):
        if line.strip():
            r = json.loads(line); written[r['id']] = r
missing = [i for i in briefs if i not in written]
assert not missing, f'{len(missing)} briefs not written'
os.makedirs(OUT, exist_ok=True)
needs, achs = [], []
for b in briefs.values():
    w = written[b['id']]
    row = {'id': b['id'], 'title': w['title'], 'field': b['field'], 'chain': b['chain'], 'length': b['length']}
    if b['id'].startswith('N-'):
        row.update(statement=w.get('statement', ''), indicators=w.get('indicators', ''), keywords=w.get('keywords', []))
        needs.append(row)
    else:
        row.update(summary=w.get('summary', ''), keywords=w.get('keywords', []))
        achs.append(row)
judg = [{'need': k['need'], 'true': k['true'], 'near_miss': k['near_miss']} for k in key]
needs.sort(key=lambda r: r['id']); achs.sort(key=lambda r: r['id']); judg.sort(key=lambda r: r['need'])
for name, rows in (('needs', needs), ('achievements', achs), ('judgements', judg)):
    with open(f'{OUT}/{name}.jsonl', 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
print(len(needs), 'needs', sum(1 for j in judg if j['true']), 'with a true 成果', len(achs), '成果', len({n['chain'] for n in needs}), 'chains')
