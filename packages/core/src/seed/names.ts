import type { InteractionKind } from '../network/enums';
import type { Rng } from './random';

// Common surnames with their pinyin, so a person can be shown as 王芳 or Fang Wang and still get a
// believable ascii email.
const surnames: readonly (readonly [string, string])[] = [
  ['王', 'Wang'], ['李', 'Li'], ['张', 'Zhang'], ['刘', 'Liu'], ['陈', 'Chen'],
  ['杨', 'Yang'], ['赵', 'Zhao'], ['黄', 'Huang'], ['周', 'Zhou'], ['吴', 'Wu'],
  ['徐', 'Xu'], ['孙', 'Sun'], ['胡', 'Hu'], ['朱', 'Zhu'], ['高', 'Gao'],
  ['林', 'Lin'], ['何', 'He'], ['郭', 'Guo'], ['马', 'Ma'], ['罗', 'Luo'],
  ['梁', 'Liang'], ['宋', 'Song'], ['郑', 'Zheng'], ['谢', 'Xie'], ['韩', 'Han'],
  ['唐', 'Tang'], ['冯', 'Feng'], ['于', 'Yu'], ['董', 'Dong'], ['萧', 'Xiao'],
];

const givenNames: readonly (readonly [string, string])[] = [
  ['芳', 'Fang'], ['娜', 'Na'], ['敏', 'Min'], ['静', 'Jing'], ['丽', 'Li'],
  ['强', 'Qiang'], ['磊', 'Lei'], ['军', 'Jun'], ['洋', 'Yang'], ['勇', 'Yong'],
  ['艳', 'Yan'], ['杰', 'Jie'], ['涛', 'Tao'], ['明', 'Ming'], ['超', 'Chao'],
  ['秀英', 'Xiuying'], ['桂英', 'Guiying'], ['志强', 'Zhiqiang'], ['建华', 'Jianhua'],
  ['晓明', 'Xiaoming'], ['婷婷', 'Tingting'], ['雪梅', 'Xuemei'], ['浩然', 'Haoran'],
  ['子涵', 'Zihan'], ['雨轩', 'Yuxuan'], ['欣怡', 'Xinyi'], ['思远', 'Siyuan'],
  ['嘉怡', 'Jiayi'], ['俊杰', 'Junjie'], ['文博', 'Wenbo'],
];

// Many urban customers use an English first name at work (Lily Chen).
const englishNames: readonly string[] = [
  'Lily', 'Grace', 'Kevin', 'Jason', 'Vivian', 'Eric', 'Cindy', 'Tony',
  'Amy', 'Leo', 'Sophie', 'David', 'Emma', 'Michael', 'Nina', 'Jack',
];

/** Companies are shared on purpose: people at the same company become COLLEAGUE edges. */
export const companies: readonly string[] = [
  '上海茗悦贸易有限公司', '北京和光文化传媒', 'Hangzhou West Lake Gifts Co.', '深圳云栖科技',
  'Jade Garden Hotel', '成都锦里茶馆', 'Suzhou Silk Road Trading', '广州南风食品',
  'Blue Harbor Consulting', '厦门鼓浪屿茶业', '南京紫金律师事务所', 'Golden Leaf Imports',
  '武汉江城教育', 'Pearl River Logistics', '杭州龙井合作社', 'Lotus Wellness Spa',
];

/** Partners are suppliers, venues and resellers rather than offices. */
export const partnerCompanies: readonly string[] = [
  '云南普洱茶厂', '福建武夷岩茶合作社', 'Shanghai Tea Expo Ltd.', '安溪铁观音茶业',
  'Peninsula Hotel Group', '黄山毛峰茶园', 'Teaware Studio 景德镇', '湖南黑茶集团',
];

export const tagPool: readonly string[] = [
  'vip', 'wholesale', 'shanghai', 'beijing', 'hangzhou', 'shenzhen', 'tea-lover',
  'corporate-gift', 'pu-erh', 'oolong', 'green-tea', 'wechat', 'newsletter', 'tasting-club',
];

export const salesReps: readonly string[] = ['rep-lin', 'rep-zhou', 'rep-ma'];

export const decisionStyles: readonly string[] = ['ANALYTICAL', 'DRIVER', 'AMIABLE', 'EXPRESSIVE'];

const emailDomains: readonly string[] = ['example.cn', 'example.com', 'example.org', 'example.net'];

export interface PersonName {
  displayName: string;
  surnameIndex: number;
  email: string;
}

/** A person's shown name (Chinese, pinyin or English style) and a pinyin-based email. */
export function personName(rng: Rng, serial: number): PersonName {
  const surnameIndex = rng.int(0, surnames.length - 1);
  const [surnameHan, surnamePinyin] = surnames[surnameIndex]!;
  const [givenHan, givenPinyin] = rng.pick(givenNames);
  const style = rng.weighted([60, 25, 15]);
  let displayName: string;
  let local: string;
  if (style === 0) {
    displayName = `${surnameHan}${givenHan}`;
    local = `${givenPinyin}.${surnamePinyin}`;
  } else if (style === 1) {
    displayName = rng.chance(0.5) ? `${givenPinyin} ${surnamePinyin}` : `${surnamePinyin} ${givenPinyin}`;
    local = `${surnamePinyin}.${givenPinyin}`;
  } else {
    const english = rng.pick(englishNames);
    displayName = `${english} ${surnamePinyin}`;
    local = `${english}.${surnamePinyin}`;
  }
  // The serial keeps addresses distinct between the many Wang Fangs of a large book.
  const email = `${local.toLowerCase()}${serial % 100}@${rng.pick(emailDomains)}`;
  return { displayName, surnameIndex, email };
}

/** A mainland mobile number in E.164 (+86 1[3-9]x xxxx xxxx). */
export function mobilePhone(rng: Rng): string {
  let digits = `1${rng.int(3, 9)}`;
  for (let i = 0; i < 9; i++) digits += String(rng.int(0, 9));
  return `+86${digits}`;
}

export const partyNotes: readonly string[] = [
  'Prefers 明前龙井; buys gifts before Mid-Autumn.',
  'Ask before calling during office hours.',
  '喜欢普洱熟茶，每年春节订礼盒。',
  'Collects Yixing teapots.',
  'Orders for the whole office every quarter.',
  'Allergic to jasmine scent.',
  '客户生日前一周发祝福。',
  'Likes to taste before buying.',
];

export const interactionNotes: Record<InteractionKind, readonly string[]> = {
  CALL: ['Asked about the new Longjing harvest', '询问明前龙井到货时间', 'Confirmed delivery address'],
  EMAIL: ['Sent the spring catalogue', 'Replied about gift packaging', '发送了中秋礼盒报价'],
  MEETING: ['Tasting session at the shop', 'Discussed a corporate gift order', '面谈年度团购'],
  EVENT: ['Came to the spring tea fair', 'Joined the pu-erh tasting evening', '参加了茶艺沙龙'],
  VISIT: ['Visited the flagship store', 'Browsed the teaware corner', '到店试饮乌龙'],
  CARE: ['Follow-up call after delivery', '回访：对茶叶品质满意', 'Birthday greeting sent'],
  COMPLAINT: ['Package arrived damaged', '快递延误三天', 'Tea tasted stale'],
  FEEDBACK: ['Loved the Da Hong Pao', '建议增加小包装', 'Would like more oolong options'],
};

export const manualMoveReasons: readonly string[] = [
  'Met at the spring tea fair',
  'Tasting session went well',
  'Asked for the corporate gift catalogue',
  '在茶博会上详谈，意向明确',
];

export const partnerMoveReasons: readonly string[] = [
  'Signed a distribution agreement',
  '签订年度供货协议',
];

export const rejectionReasons: readonly string[] = [
  'Same household as the referrer',
  'Duplicate contact details',
  'Referee was already known to the shop',
];

export const relationshipLabels = {
  COLLEAGUE: ['同事', 'Same team', 'Manager'],
  FAMILY: ['spouse', 'sibling', 'parent', '夫妻', '表亲'],
  FRIEND: ['Tea club', 'University classmate', '老朋友', 'Neighbour'],
  PARTNER_OF: ['Wholesale supplier', 'Hotel tea service', '代理商'],
  FOLLOWS: ['WeChat channel', 'Xiaohongshu'],
  OTHER: ['Met at a trade show', 'Landlord', '介绍人的朋友'],
} as const;
