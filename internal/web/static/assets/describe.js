// describe turns an event into words for the feed: {who, what}. Unknown types still show up.
import { displayName, fmtInt } from './dom.js';

// group is the feed filter an event type belongs to.
export function group(type) {
  switch (type) {
    case 'chat':
    case 'gift':
    case 'like':
    case 'member':
    case 'social':
    case 'roomUser':
      return type;
    default:
      return 'other';
  }
}

export const groups = [
  ['chat', 'Chat'],
  ['gift', 'Gifts'],
  ['like', 'Likes'],
  ['member', 'Joins'],
  ['social', 'Follows & shares'],
  ['roomUser', 'Viewer counts'],
  ['other', 'Other'],
];

const words = (s) => String(s || '').replaceAll('_', ' ');

export function giftText(d) {
  const n = d.repeatCount > 1 ? ' ×' + d.repeatCount : '';
  const dia = d.totalDiamonds ? ' (' + fmtInt(d.totalDiamonds) + ' 💎)' : '';
  return 'sent ' + (d.giftName || 'a gift') + n + dia;
}

export function describe(ev) {
  const d = ev.data || {};
  const who = d.user && (d.user.nickname || d.user.uniqueId) ? displayName(d.user) : '';
  switch (ev.type) {
    case 'chat':
      return { who, what: d.comment || '' };
    case 'gift':
      return { who, what: giftText(d) };
    case 'like':
      return { who, what: 'liked the LIVE' + (d.likeCount > 1 ? ' ×' + d.likeCount : '') };
    case 'member':
      return { who, what: d.action === 'join' ? 'joined' : d.action === 'subscribe' ? 'subscribed' : 'entered' };
    case 'social':
      return { who, what: d.action === 'follow' ? 'followed the host' : d.action === 'share' ? 'shared the LIVE' : 'interacted' };
    case 'roomUser':
      return { who: '', what: fmtInt(d.viewerCount) + ' viewers' };
    case 'subscribe':
      return { who, what: 'subscribed' + (d.subMonth ? ' (month ' + d.subMonth + ')' : '') };
    case 'question':
      return { who, what: 'asked: ' + (d.questionText || '') };
    case 'emote':
      return { who, what: 'sent an emote' };
    case 'envelope':
      return { who, what: 'dropped a treasure chest' + (d.diamondCount ? ' (' + fmtInt(d.diamondCount) + ' 💎)' : '') };
    case 'battle':
      return { who: '', what: 'battle update' };
    case 'battleArmies':
      return { who: '', what: 'battle scores' };
    case 'liveIntro':
      return { who, what: 'intro: ' + (d.description || '') };
    case 'control':
      return { who: '', what: 'the host ' + (d.action === 'paused' ? 'paused' : d.action === 'unpaused' ? 'resumed' : 'changed') + ' the LIVE' };
    case 'streamEnd':
      return { who: '', what: 'the LIVE ' + (d.action === 'suspended' ? 'was suspended' : 'ended') };
    case 'connection_created':
      return { who: '', what: 'connected to the room' };
    case 'connection_closed':
      return { who: '', what: 'disconnected (' + words(d.reason || 'requested') + ')' };
    case 'disconnected':
      return { who: '', what: 'connection lost (' + words(d.reason) + ')' + (d.willRetry ? ', will retry' : '') };
    case 'reconnecting':
      return { who: '', what: 'reconnecting (attempt ' + (d.attempt || 1) + ')' };
    case 'rate_limited':
      return { who: '', what: 'rate limited by the sign server' };
    case 'waiting_for_live':
      return { who: '', what: 'waiting for the host to go live' };
    case 'stalled':
      return { who: '', what: 'the connection went quiet' };
    case 'error':
      return { who: '', what: 'error: ' + (d.message || d.code || '') };
    case 'live_started':
      return { who: '', what: 'the host went LIVE' + (d.title ? ': ' + d.title : '') };
    case 'live_ended': {
      const t = d.totals || {};
      const figures = [fmtInt(t.likes || 0) + ' likes', fmtInt(t.diamonds || 0) + ' 💎', fmtInt(t.follows || 0) + ' follows'];
      return { who: '', what: 'the LIVE is over (' + words(d.reason || 'ended') + '): ' + figures.join(', ') };
    }
    default:
      return { who, what: words(ev.type) };
  }
}
