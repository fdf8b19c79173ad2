// How a cluster size is written everywhere in the output: 100, 1k, 30k.
export const kilo = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
