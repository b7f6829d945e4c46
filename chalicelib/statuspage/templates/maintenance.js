// Polls status.json and the health endpoints in parallel; returns to the app once all are healthy.
(function(){var D=document,C=JSON.parse(D.getElementById('cfg').textContent);
function get(u,o){var c=new AbortController(),t=setTimeout(function(){c.abort()},C.timeout);o.signal=c.signal;o.cache='no-store';
return fetch(u,o).finally(function(){clearTimeout(t)})}
function healthy(u){return get(u,{redirect:'manual',credentials:'omit'}).then(function(r){return r.ok},function(){return false})}
function status(){return get(C.status,{}).then(function(r){if(!r.ok)throw r.status;return r.json()}).then(function(s){show(s);return s},function(){
D.getElementById('note').textContent='Status details are briefly unavailable; still checking.';return null})}
function stamp(p,words,iso){if(!iso)return;p.appendChild(D.createTextNode(words));var t=D.createElement('time');
t.setAttribute('datetime',iso);t.textContent=iso;p.appendChild(t)}
function show(s){var cs=s.components||[],m=(s.maintenance&&s.maintenance.active)||[],d=D.getElementById('down');
var hit=cs.filter(function(c){return c.status!=='UP'}),all=cs.length>0&&cs.every(function(c){return c.status==='MAINTENANCE'});
var l=D.createElement('ul');hit.forEach(function(c){var i=D.createElement('li');
i.textContent=c.name+': '+(C.labels[c.status]||c.status);stamp(i,' since ',c.since);l.appendChild(i)});
if(!hit.length){var i=D.createElement('li');i.textContent='Checking\u2026';l.appendChild(i)}
d.textContent='';if(all){var x=D.createElement('details'),y=D.createElement('summary');
y.textContent='Every component ('+cs.length+')';x.appendChild(y);x.appendChild(l);d.appendChild(x)}else d.appendChild(l);
var w=D.getElementById('window');if(m.length){D.getElementById('message').textContent=m[0].message;w.textContent='';
stamp(w,'Started ',m[0].start);stamp(w,'; expected to end by ',m[0].end);if(w.firstChild)w.appendChild(D.createTextNode('.'))}
D.getElementById('updated').textContent=s.updated_at||'';D.getElementById('note').textContent='';
if(window.autohealTimes)autohealTimes()}
function back(){var a=C.app||location.origin+'/';return a+(a.indexOf('?')<0?'?':'&')+'v='+Date.now()}
function poll(){Promise.all([status()].concat(C.health.map(healthy))).then(function(a){var s=a[0],ok=a.slice(1).every(Boolean);
var held=!!(s&&s.maintenance&&s.maintenance.active&&s.maintenance.active.length);
D.getElementById('checked').textContent=new Date().toISOString().slice(0,19)+'Z';
if(ok&&!held){D.getElementById('note').textContent='The service is back: returning you now.';location.replace(back());return}
setTimeout(poll,C.interval+Math.random()*C.jitter)})}
poll()})();
