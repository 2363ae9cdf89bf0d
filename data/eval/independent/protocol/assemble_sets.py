"""Writer outputs + key → data/eval/independent/{tuning,lockbox}: split by 产业链, each with its own library."""
import json, random, glob, os, collections
rng = random.Random(7)
OUT = '/work/main/data/eval/independent'
key = json.load(open('/work/evalwork/key.json'))
briefs = {}
for p in glob.glob('/work/evalwork/briefs/*.json'):
    for b in json.load(open(p)):
        briefs[b['id']] = b
written = {}
for p in glob.glob('/work/evalwork/out/*.jsonl'):
    for line in open(p, encoding='utf-8'):
        if line.strip():
            r = json.loads(line); written[r['id']] = r
missing = [i for i in briefs if i not in written]
assert not missing, f'{len(missing)} briefs not written'
# chains of each seed group; 40% of each group's chains go to the lockbox
groups = collections.defaultdict(list)
for k in key:
    g = k['topic'].split('-')[0]
    if k['chain'] not in groups[g]:
        groups[g].append(k['chain'])
lock = set()
for g, chains in sorted(groups.items()):
    lock |= set(rng.sample(sorted(chains), round(len(chains) * 0.4)))
for part in ('tuning', 'lockbox'):
    os.makedirs(f'{OUT}/{part}', exist_ok=True)
    keep = lambda chain: (chain in lock) == (part == 'lockbox')
    needs, achs, judg = [], [], []
    for b in briefs.values():
        if not keep(b['chain']):
            continue
        w = written[b['id']]
        row = {'id': b['id'], 'title': w['title'], 'field': b['field'], 'chain': b['chain'], 'length': b['length']}
        if b['id'].startswith('N-'):
            row.update(statement=w.get('statement', ''), indicators=w.get('indicators', ''), keywords=w.get('keywords', []))
            needs.append(row)
        else:
            row.update(summary=w.get('summary', ''), keywords=w.get('keywords', []))
            achs.append(row)
    for k in key:
        if keep(k['chain']):
            judg.append({'need': k['need'], 'true': k['true'], 'near_miss': k['near_miss']})
    needs.sort(key=lambda r: r['id']); achs.sort(key=lambda r: r['id']); judg.sort(key=lambda r: r['need'])
    for name, rows in (('needs', needs), ('achievements', achs), ('judgements', judg)):
        with open(f'{OUT}/{part}/{name}.jsonl', 'w', encoding='utf-8') as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
    if part == 'lockbox':
        open(f'{OUT}/{part}/LOCKBOX', 'w').write('Read only to report: never fit, tune or look at these texts. Readings: ../lockbox-readings.jsonl\n')
    print(part, len(needs), 'needs', sum(1 for j in judg if j['true']), 'with a true 成果', len(achs), '成果',
          len({n['chain'] for n in needs}), 'chains')
