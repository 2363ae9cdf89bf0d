"""One writing round after the first (tuning2, lockbox2, tuning4, tuning5): seeds → briefs, and
writer outputs + key → a graded set. The rounds as they were run are listed in rounds.md.

    python assemble_round.py briefs ROUND_DIR RANDOM_SEED   # ROUND_DIR/seeds/g*.jsonl → briefs/, key.json
    python assemble_round.py set ROUND_DIR OUT_DIR          # ROUND_DIR/out/*.jsonl + key.json → OUT_DIR
"""
import glob
import hashlib
import json
import os
import random
import sys


def oid(prefix, *parts):
    return prefix + hashlib.sha1('|'.join(parts).encode()).hexdigest()[:8]


def briefs(folder, seed):
    rng = random.Random(seed)
    topics, distractors = [], []
    for path in sorted(glob.glob(f'{folder}/seeds/g*.jsonl')):
        for line in open(path, encoding='utf-8'):
            if line.strip():
                r = json.loads(line)
                (topics if r['kind'] == 'topic' else distractors).append(r)
    needs, achs, key = [], [], []
    for t in topics:
        nid = oid('N-', t['topic'], 'need')
        length = rng.choices(['title', 'short', 'medium', 'long'], [15, 30, 30, 25])[0]
        needs.append({'id': nid, 'chain': t['chain'], 'field': t['field'], 'brief': t['need_brief'], 'length': length})
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
    rng.shuffle(needs)
    rng.shuffle(achs)
    json.dump(key, open(f'{folder}/key.json', 'w'), ensure_ascii=False, indent=0)
    os.makedirs(f'{folder}/briefs', exist_ok=True)
    for i in range(2):
        json.dump(needs[i::2], open(f'{folder}/briefs/needs_{i}.json', 'w'), ensure_ascii=False, indent=0)
    for i in range(3):
        json.dump(achs[i::3], open(f'{folder}/briefs/achs_{i}.json', 'w'), ensure_ascii=False, indent=0)
    print(len(topics), 'topics', sum(1 for k in key if k['true']), 'with true;', len(needs), 'needs', len(achs), '成果')


def assemble(folder, out):
    key = json.load(open(f'{folder}/key.json'))
    given = {}
    for p in glob.glob(f'{folder}/briefs/*.json'):
        for b in json.load(open(p)):
            given[b['id']] = b
    written = {}
    for p in glob.glob(f'{folder}/out/*.jsonl'):
        for line in open(p, encoding='utf-8'):
            if line.strip():
                r = json.loads(line)
                written[r['id']] = r
    assert set(written) == set(given), 'the writers wrote other ids than their briefs'
    os.makedirs(out, exist_ok=True)
    needs, achs = [], []
    for b in given.values():
        w = written[b['id']]
        row = {'id': b['id'], 'title': w['title'], 'field': b['field'], 'chain': b['chain'], 'length': b['length']}
        if b['id'].startswith('N-'):
            row.update(statement=w.get('statement', ''), indicators=w.get('indicators', ''), keywords=w.get('keywords', []))
            needs.append(row)
        else:
            row.update(summary=w.get('summary', ''), keywords=w.get('keywords', []))
            achs.append(row)
    judg = [{'need': k['need'], 'true': k['true'], 'near_miss': k['near_miss']} for k in key]
    for name, rows, by in (('needs', needs, 'id'), ('achievements', achs, 'id'), ('judgements', judg, 'need')):
        with open(f'{out}/{name}.jsonl', 'w', encoding='utf-8') as f:
            for r in sorted(rows, key=lambda r: r[by]):
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
    print(len(needs), 'needs', sum(1 for j in judg if j['true']), 'with a true 成果', len(achs), '成果',
          len({n['chain'] for n in needs}), 'chains')


if __name__ == '__main__':
    step, folder, arg = sys.argv[1:4]
    briefs(folder, int(arg)) if step == 'briefs' else assemble(folder, arg)
