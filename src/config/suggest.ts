/**
 * "did you mean 'x'?" for unknown keys and values, as HAProxy does it: the closest known word by edit distance,
 * offered only when it is close enough to be a likely typo.
 */

/** Levenshtein distance (insert, delete, substitute; each costs 1), case-sensitive. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const deletion = (previous[j] ?? 0) + 1;
      const insertion = (current[j - 1] ?? 0) + 1;
      current.push(Math.min(substitution, deletion, insertion));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Longer words get no "did you mean": no config keyword or value is anywhere near this long. */
export const MAX_SUGGESTED_WORD_LENGTH = 64;

/**
 * The known word closest to `word`: within a third of its length in edits (at least 1, at most 3), compared
 * ignoring case so that 'Listen' suggests 'listen'; failing that, one that it starts with or that starts with it.
 * Null when nothing is close.
 */
export function closestWord(word: string, known: readonly string[]): string | null {
  // Edit distance costs length × length: a 50 MB value would take a minute and gigabytes, and is no typo anyway.
  if (word.length > MAX_SUGGESTED_WORD_LENGTH) return null;
  const lower = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (bestDistance <= limit) return best;
  // A word that merely runs on or stops short: 'warning' → 'warn', 'default_pool' → 'default'.
  const MIN_PREFIX = 3;
  const isPrefixMatch = (candidate: string): boolean => {
    const other = candidate.toLowerCase();
    if (Math.min(lower.length, other.length) < MIN_PREFIX) return false;
    return lower.startsWith(other) || other.startsWith(lower);
  };
  return known.find(isPrefixMatch) ?? null;
}

/** `; did you mean 'x'?` or, with no close word, `; expected one of: a, b, c`. */
export function suggestionSuffix(word: string, known: readonly string[]): string {
  const closest = closestWord(word, known);
  return closest !== null ? `; did you mean '${closest}'?` : `; expected one of: ${known.join(', ')}`;
}

/** 'a, b or c' */
export function oneOf(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1] ?? ''}`;
}
