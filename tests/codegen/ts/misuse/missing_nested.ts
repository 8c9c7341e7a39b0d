// A typed variable (not an inline argument) missing a required field of a nested item.
import type { OrderV1Item } from "charter-events";

export const item: OrderV1Item = { orderitemid: 1, productid: 7, quantity: 1 };
