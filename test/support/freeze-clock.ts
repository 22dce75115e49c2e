/**
 * @module
 * Stops `Date.now()` and `performance.now()` where they are, as production
 * Workers do during CPU work (their clocks only move across I/O). Returns the
 * function that restores both.
 */
export function freezeClock(): () => void {
  const dateNow = Date.now;
  const perfNow = performance.now;
  const at = dateNow.call(Date);
  const perfAt = perfNow.call(performance);
  Date.now = () => at;
  performance.now = () => perfAt;
  return () => {
    Date.now = dateNow;
    performance.now = perfNow;
  };
}
