export * from './points.sql';
export { maxEntryPoints, settleDebt, type PointsEntryRow } from './lots';
export * from './balances';
export * from './ledger';
export * from './redeem';
export { earnForOrder } from './earn';
export { transferPoints, type PointsTransfer } from './transfer';
export { expirePoints, type ExpiryWindow } from './expiry';
export { reversePointsForRefund } from './reverse';
