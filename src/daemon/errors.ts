/** Base of every error dcron raises on purpose; tests assert the class, not the text. */
export class DcronError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
