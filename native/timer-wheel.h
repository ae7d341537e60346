/*
 * A hashed timer wheel: deadlines in 10 ms ticks over 4096 slots (~41 s per turn). Adding, moving and removing
 * a deadline is O(1); a deadline further away than one turn stays in its slot until its own turn comes. One
 * uv_timer_t drives it (binding.c), so a connection costs no libuv timer.
 */
#ifndef SNIR_TIMER_WHEEL_H
#define SNIR_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define WHEEL_TICK_MS 10
#define WHEEL_SLOTS 4096

typedef struct timer_entry {
  struct timer_entry *prev, *next; /* circular list through the slot's sentinel; both NULL when not armed */
  uint64_t deadline_ms;
} timer_entry;

typedef struct {
  timer_entry slots[WHEEL_SLOTS]; /* sentinels */
  uint64_t current_tick;          /* the next tick to process */
  uint32_t armed;
} timer_wheel;

typedef void (*timer_fire_fn)(void *context, timer_entry *entry);

void wheel_init(timer_wheel *wheel, uint64_t now_ms);
void wheel_arm(timer_wheel *wheel, timer_entry *entry, uint64_t deadline_ms);
void wheel_disarm(timer_wheel *wheel, timer_entry *entry);
bool wheel_is_armed(const timer_entry *entry);
/** Fires every entry due at now_ms (disarmed before its callback, which may arm it again). */
void wheel_advance(timer_wheel *wheel, uint64_t now_ms, timer_fire_fn fire, void *context);

#endif
