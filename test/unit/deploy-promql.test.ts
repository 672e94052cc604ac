/** The PromQL name extraction the dashboard check relies on (test/helpers/promql.ts). */
import { describe, expect, it } from 'vitest';
import { promqlMetricNames } from '../helpers/promql.js';

describe('promqlMetricNames', () => {
  it('finds the metric names and leaves out functions, labels, grouping, durations and strings', () => {
    expect(promqlMetricNames('histogram_quantile(0.99, sum by (le, event) (rate(hornets_hook_duration_seconds_bucket{job="x"}[5m])))')).toEqual(['hornets_hook_duration_seconds_bucket']);
    expect(promqlMetricNames('sum by (priority) (max by (agent, priority) (hornets_queue_depth))')).toEqual(['hornets_queue_depth']);
    expect(promqlMetricNames('up{job="hornets"}')).toEqual(['up']);
    expect(promqlMetricNames('tasks_failed / ignoring(worker) tasks_total offset 5m')).toEqual(['tasks_failed', 'tasks_total']);
    expect(promqlMetricNames('sum(rate(no_such_metric[1m])) > bool 0')).toEqual(['no_such_metric']);
  });
});
