/** A fixed-capacity FIFO that, when full, drops its oldest item to take a new one. */
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;
  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }
  get length(): number {
    return this.size;
  }
  /** Appends `item`; returns 1 if the oldest item was dropped to make room, else 0. */
  push(item: T): number {
    const cap = this.capacity;
    if (this.size < cap) {
      this.items[(this.head + this.size) % cap] = item;
      this.size++;
      return 0;
    }
    this.items[this.head] = item;
    this.head = (this.head + 1) % cap;
    return 1;
  }
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }
  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.size > 0) out.push(this.shift() as T);
    return out;
  }
}
