"""Turn topic seeds into writer briefs (needs / 成果), shuffled, with opaque ids; keep the key."""
import json, random, hashlib, glob
rng = random.Random(20261205)
topics, distractors = [], []
for path in sorted(glob.glob('/work/evalwork/t4/seeds/g*.jsonl')):
    for line in open(path, encoding='utf-8'):
        if line.strip():
            r = json.loads(line)
            (topics if r['kind'] == 'topic' else distractors).append(r)
def oid(prefix, *parts):
    return prefix + hashlib.sha1('|'.join(parts).encode()).hexdigest()[:8]
needs, achs, key = [], [], []
for t in topics:
    nid = oid('N-', t['topic'], 'need')
    L = rng.choices(['title', 'short', 'medium', 'long'], [15, 30, 30, 25])[0]
    needs.append({'id': nid, 'chain': t['chain'], 'field': t['field'], 'brief': t['need_brief'], 'length': L})
    k = {'topic': t['topic'], 'chain': t['chain'], 'need': nid, 'true': None, 'near_miss': None}
    if t.get('has_true') and t.get('solution_brief'):
        aid = oid('A-', t['topic'], 'true')
        achs.append({'id': aid, 'chain': t['chain'], 'field': t['field'], 'brief': t['solution_brief'],
                     'length': rng.choices(['title', 'short', 'full'], [15, 30, 55])[0]})
        k['true'] = aid
    mid = oid('A-', t['topic'], 'near')
    achs.append({'id': mid, 'chain': t['chain'], 'field': t['field'], 'brief': t['near_miss_brief'],
                 'length': rng.choices(['title', 'short', 'full'], [15, 30, 55])[0]})
    k['near_miss'] = mid
    key.append(k)
for n, d in enumerate(distractors):
    achs.append({'id': oid('A-', d['chain'], d['brief'], str(n)), 'chain': d['chain'], 'field': d['field'],
                 'brief': d['brief'], 'length': rng.choices(['title', 'short', 'full'], [15, 30, 55])[0]})
rng.shuffle(needs); rng.shuffle(achs)
json.dump(key, open('/work/evalwork/t4/key.json', 'w'), ensure_ascii=False, indent=0)
def split(items, n):
    return [items[i::n] for i in range(n)]
for i, part in enumerate(split(needs, 2)):
    json.dump(part, open(f'/work/evalwork/t4/briefs/needs_{i}.json', 'w'), ensure_ascii=False, indent=0)
for i, part in enumerate(split(achs, 3)):
    json.dump(part, open(f'/work/evalwork/t4/briefs/achs_{i}.json', 'w'), ensure_ascii=False, indent=0)
print(len(topics), 'topics', sum(1 for k in key if k['true']), 'with true;', len(needs), 'needs', len(achs), '成果')
