// The metric definitions the main thread and the workers share: a metric is the same
// metric in every thread only with the same definition.
export const ORDERS = { name: 'orders_total', help: 'Orders placed, by region.', labelNames: ['region'], striped: true };
export const CHECKOUT = {
  name: 'checkout_duration_seconds',
  help: 'Time to place an order.',
  buckets: [0.1, 0.5, 1],
  striped: true,
};
