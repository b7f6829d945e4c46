// Times in the reader's own zone and how long ago; the UTC text stays as the tooltip.
(function(){var R=window.Intl&&Intl.RelativeTimeFormat?new Intl.RelativeTimeFormat(undefined,{numeric:'auto'}):null;
var U=[['year',31536000],['month',2592000],['day',86400],['hour',3600],['minute',60],['second',1]];
function ago(t){var s=(t-Date.now())/1000,a=Math.abs(s);for(var i=0;i<U.length;i++)if(a>=U[i][1]||i===U.length-1)
return R.format(Math.round(s/U[i][1]),U[i][0])}
function local(){document.querySelectorAll('time[datetime]').forEach(function(n){var t=Date.parse(n.getAttribute('datetime'));
if(isNaN(t))return;if(!n.title)n.title=n.textContent;n.textContent=new Date(t).toLocaleString(undefined,
{dateStyle:'medium',timeStyle:'short'})+(R?' ('+ago(t)+')':'')})}
window.autohealTimes=local;local();setInterval(local,60000)})();
