// Bad input is one line: where, which key, what is wrong, how to fix it; the tool then exits 2
// having written nothing.
export class InputError extends Error {
  constructor(where, key, what, fix) {
    super(`${where}: ${key ? key + ': ' : ''}${what} (${fix})`)
  }
}
