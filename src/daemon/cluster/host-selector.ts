/**
 * The `hosts=` option: which nodes may run a job. Either a glob over node ids
 * (`web-*`, `db-?`, `batch-[12]`), or a label selector `key=value,key2=value2`
 * where every pair must match one of the node's labels (`--label`).
 * Several globs may be given separated by `|` (`web-*|api-*`).
 */
export interface NodeIdentity {
  id: string;
  labels: Record<string, string>;
}

export type HostSelector = (node: NodeIdentity) => boolean;

export function parseHostSelector(text: string | null): HostSelector {
  if (text === null || text === '' || text === '*') return () => true;
  if (text.includes('=')) {
    const pairs = text.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    });
    return (node) => pairs.every(([k, v]) => node.labels[k] === v);
  }
  const globs = text.split('|').map((g) => globToRegExp(g.trim()));
  return (node) => globs.some((re) => re.test(node.id));
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${glob.slice(i + 1, end).replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
