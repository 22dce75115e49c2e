// `node --import ./test/support/freeze-clock.mjs …`: the whole process runs with
// Date.now() and performance.now() stopped, as production Workers run CPU work.
const at = Date.now();
const perfAt = performance.now();
Date.now = () => at;
performance.now = () => perfAt;
