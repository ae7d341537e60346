/* See timer-wheel.h. */
#include "timer-wheel.h"

#include <stddef.h>

static void list_init(timer_entry *head) { head->prev = head->next = head; }

static void list_insert(timer_entry *head, timer_entry *entry) {
  entry->next = head->next;
  entry->prev = head;
  head->next->prev = entry;
  head->next = entry;
}

static void list_unlink(timer_entry *entry) {
  entry->prev->next = entry->next;
  entry->next->prev = entry->prev;
  entry->prev = entry->next = NULL;
}

void wheel_init(timer_wheel *wheel, uint64_t now_ms) {
  for (int i = 0; i < WHEEL_SLOTS; i++) list_init(&wheel->slots[i]);
  wheel->current_tick = now_ms / WHEEL_TICK_MS;
  wheel->armed = 0;
}

bool wheel_is_armed(const timer_entry *entry) { return entry->next != NULL; }

void wheel_arm(timer_wheel *wheel, timer_entry *entry, uint64_t deadline_ms) {
  if (wheel_is_armed(entry)) wheel_disarm(wheel, entry);
  uint64_t tick = deadline_ms / WHEEL_TICK_MS;
  if (tick < wheel->current_tick) tick = wheel->current_tick; /* already due: fires on the next advance */
  entry->deadline_ms = deadline_ms;
  list_insert(&wheel->slots[tick % WHEEL_SLOTS], entry);
  wheel->armed++;
}

void wheel_disarm(timer_wheel *wheel, timer_entry *entry) {
  if (!wheel_is_armed(entry)) return;
  list_unlink(entry);
  wheel->armed--;
}

void wheel_advance(timer_wheel *wheel, uint64_t now_ms, timer_fire_fn fire, void *context) {
  uint64_t now_tick = now_ms / WHEEL_TICK_MS;
  uint64_t steps = 0;
  while (wheel->current_tick <= now_tick && wheel->armed > 0 && steps < WHEEL_SLOTS) {
    timer_entry *slot = &wheel->slots[wheel->current_tick % WHEEL_SLOTS];
    /* Move the slot's entries to a private list: callbacks may arm or disarm anything, this slot included. */
    timer_entry pending;
    list_init(&pending);
    if (slot->next != slot) {
      pending.next = slot->next;
      pending.prev = slot->prev;
      pending.next->prev = &pending;
      pending.prev->next = &pending;
      list_init(slot);
    }
    /* Past this tick before firing: an entry armed by a callback for "now" lands in the next slot, not in this
     * one, which would only come round again a whole turn later. */
    wheel->current_tick++;
    steps++;
    while (pending.next != &pending) {
      timer_entry *entry = pending.next;
      list_unlink(entry);
      if (entry->deadline_ms / WHEEL_TICK_MS > now_tick) {
        list_insert(slot, entry); /* a later turn of the wheel */
        continue;
      }
      wheel->armed--;
      fire(context, entry);
    }
  }
  if (wheel->current_tick <= now_tick) wheel->current_tick = now_tick + 1;
}
