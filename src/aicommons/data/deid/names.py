"""Person names: Chinese names from a surname list plus context, English names from context
(a title, "my name is", "Dear", "'s phone"). Without context a word that merely starts with a
surname (王者, 高速) is not a name; that is the price of not loading a language model."""

from __future__ import annotations

import re
from collections.abc import Iterator

from aicommons.data.deid.detectors import CJK, Span, detectors

# 百家姓 and other common single-character surnames.
SINGLE_SURNAMES = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎"
    "鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄"
    "和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭"
    "梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚"
    "程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫"
    "宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁胥能苍双"
    "闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容"
    "向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空"
    "曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公覃冼邝佘谌鄢粟亓仝兰晋初庹肖付涂岳詹"
)
COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "司空",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台", "公冶", "太史", "申屠",
    "万俟", "闻人", "赫连", "钟离", "濮阳", "淳于", "单于", "太叔", "仲孙", "鲜于", "闾丘", "第五",
)

# Characters that end a name rather than continue it: particles, verbs and the first characters
# of the nouns that usually follow a name (电话, 身份证, 手机 …).
_STOP = frozenset("的了是在有与及或先女男于已将被把对从向住电手身邮地护出今来去说等们这那也都就而但请为以到给让号码证卡省市区县路街年月日您你我他她它吗呢吧啊，。、；：！？")

# A strong cue says that a name follows (姓名：, 患者); a weak one only that one may (请, 由, 与).
_STRONG_TRIGGERS = (
    "姓名", "名字", "联系人", "收件人", "收货人", "寄件人", "发件人", "患者", "病人", "客户", "用户", "申请人",
    "投保人", "被保险人", "法定代表人", "法人代表", "法人", "负责人", "经办人", "持卡人", "开户人", "户主", "乘客",
    "租客", "房东", "业主", "学生", "员工", "职工", "我叫", "我是", "名叫", "叫做", "本人", "签名", "签字",
    "亲爱的", "尊敬的", "嫌疑人", "当事人", "证人", "监护人", "家长", "司机", "驾驶员", "车主", "委托人",
    "代理人", "受益人", "借款人", "担保人", "经理", "主任", "老师", "医生", "护士", "律师", "同事", "朋友",
    "同学", "记者", "作者", "教授", "工程师", "会计", "董事长", "总经理", "校长", "院长", "师傅", "求职者",
    "应聘者", "候选人", "报名人", "参会人", "访客", "来访人", "值班人", "提交人", "审批人", "致",
)
_WEAK_TRIGGERS = ("联系", "由", "感谢", "通知", "请", "与", "和", "及", "、", "把", "给", "向", "替", "帮", "让", "被")
_HONORIFICS = (
    "先生", "女士", "小姐", "同志", "老师", "医生", "教授", "同学", "律师", "经理", "主任", "师傅", "博士", "阿姨",
    "叔叔", "老板", "总", "院士", "大夫", "护士", "夫妇", "一家",
)
_PII_NOUNS = ("身份证", "手机", "电话", "联系电话", "联系方式", "邮箱", "电子邮箱", "住址", "地址", "护照", "银行卡", "卡号",
              "车牌", "生日", "出生", "账号", "家庭住址", "工号", "学号", "病历", "信息", "微信")
# Words after a name that show it is one ...
_STRONG_AFTER = _HONORIFICS + _PII_NOUNS + tuple("的" + n for n in _PII_NOUNS) + (
    "生于", "住在", "家住", "现住", "居住", "今年", "，男", "，女", ",男", ",女", "（男", "（女", "(男", "(女",
)
# ... and words that merely end one cleanly.
_WEAK_AFTER = ("的", "是", "于", "在", "已", "来自", "负责", "同意", "签署", "申请", "办理", "购买", "预订", "入住",
               "报名", "提交", "说", "表示", "告诉", "收", "寄", "等", "和", "与", "及", "、", "（", "(", "男", "女",
               "将", "会", "也", "还", "曾", "因", "为", "向", "对", "要", "先", "今天", "昨天", "明天")
_PROVINCE_START = re.compile(r"(?:北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门)")


def _ends_with(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?:是|为|叫)?[:：]?\s*$")


_STRONG_TRIGGER_END = _ends_with(_STRONG_TRIGGERS)
_WEAK_TRIGGER_END = _ends_with(_WEAK_TRIGGERS)
_SURNAME_AT = re.compile("|".join(COMPOUND_SURNAMES) + f"|[{''.join(sorted(SINGLE_SURNAMES))}]")
_CJK_CHAR = re.compile(f"[{CJK}]")


def _trigger(text: str, i: int) -> int:
    """2 after a strong cue, 1 after a weak one, 0 otherwise."""
    window = text[max(0, i - 8) : i]
    return 2 if _STRONG_TRIGGER_END.search(window) else 1 if _WEAK_TRIGGER_END.search(window) else 0


def _after(text: str, j: int) -> int:
    """3 when a word that confirms a name follows (先生, 的手机), 2 when a word that often follows
    one does (的, 是, 负责) or an address starts, 1 at punctuation, a digit or the end, else 0."""
    rest = text[j : j + 8]
    if rest.startswith(_STRONG_AFTER):
        return 3
    if rest.startswith(_WEAK_AFTER) or _PROVINCE_START.match(rest):
        return 2
    if j >= len(text) or not _CJK_CHAR.match(text[j]):
        return 1
    return 0


def _given_ok(chars: str) -> bool:
    return all(_CJK_CHAR.match(c) and c not in _STOP for c in chars)


# (cue before, word after) -> score; a missing pair is not a name. Weak evidence on both sides
# (请 … 。) scores below the default threshold.
_CN_SCORES = {
    (2, 3): 0.95, (2, 2): 0.9, (2, 1): 0.9, (2, 0): 0.6,
    (1, 3): 0.9, (1, 2): 0.6, (1, 1): 0.45,
    (0, 3): 0.85,
}


@detectors.register("person_name")
def find_person_names(text: str) -> Iterator[Span]:
    """Chinese names (surname list + context) and English names (context + capitals)."""
    yield from find_chinese_names(text)
    yield from find_english_names(text)


def find_chinese_names(text: str) -> Iterator[Span]:
    """A surname and one or two given-name characters, scored by the cue before (姓名、联系人、
    患者 … strong; 请、由、与 … weak) and the word after (先生、的手机、出生 … confirm; 的、是、
    punctuation … end cleanly): 0.85-0.95 with a strong cue or a confirming word, 0.6 with only
    weak evidence. Without a cue the name must start after a non-Chinese character. A surname
    alone before an honorific (王先生) is not a name."""
    pos = 0
    while (m := _SURNAME_AT.search(text, pos)) is not None:
        i, s_end = m.start(), m.end()
        pos = i + 1
        trigger = _trigger(text, i)
        if trigger == 0 and i > 0 and _CJK_CHAR.match(text[i - 1]):
            continue
        if text.startswith(_HONORIFICS, s_end):
            continue
        best: tuple[int, float] | None = None
        for glen in (2, 1):
            j = s_end + glen
            if j > len(text) or not _given_ok(text[s_end:j]):
                continue
            score = _CN_SCORES.get((trigger, _after(text, j)))
            if score is not None and (best is None or score > best[1]):
                best = (j, score)
        if best is not None:
            j, score = best
            yield Span(i, j, "person_name", text[i:j], score)
            pos = j


# --- English names ------------------------------------------------------------------------------------

_CAP = r"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?"
_NAME = rf"(?P<name>(?:Mc|Mac|O')?{_CAP}(?:[ \t]+(?:[A-Z]\.[ \t]+)?(?:Mc|Mac|O')?{_CAP}){{1,2}})"
_NOT_NAME_WORDS = frozenset(
    """The This That These Those Our Your Their His Her Its Street St Avenue Ave Road Rd Lane Drive Court Way Boulevard
    Inc Ltd LLC Company Corp Corporation Group Bank University College School Hospital City County State Park
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Chinese English China America American United States Kingdom
    Mobile Phone Email Address Card Passport Number Account Customer Service Team Support Department Office""".split()
)
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Mme|Mlle)\.?\s+" + _NAME.replace("{1,2}", "{0,2}"))
_ENGLISH_TRIGGER = re.compile(
    r"(?i:\b(?:my name is|name is|named|called|I am|I'm|this is|contact|patient|customer|applicant|client|"
    r"employee|student|passenger|tenant|driver|cardholder|card holder|holder|signed by|signed|dear|attention|"
    r"guardian|beneficiary|user|agent|manager|thanks?|congratulations|welcome|hi|hello|ask for|assigned to|"
    r"reported by|submitted by|approved by|owner|author)\b|\b(?:full name|name|attn)\.?\s*:|(?m:^)\s*(?:from|to|cc)\s*:)"
    r"[\s:,]*" + _NAME
)
_ENGLISH_AFTER = re.compile(
    _NAME + r"(?=(?:'s|’s)\s+(?:phone|mobile|e-?mail|address|passport|card|ID|birthday|date of birth|plate|account|number)"
    r"|\s*,?\s+(?:was born|born|lives|lived|resides|can be reached|is reachable|\(born|, born|, DOB|, aged|, age|said|says))"
)


def find_english_names(text: str) -> Iterator[Span]:
    """Two or three capitalised words after a title (0.9), after a cue such as "my name is",
    "Dear", "patient" (0.85), or before "'s phone", "was born", "lives" (0.85). A title with a
    single surname (Dr. Smith) counts too."""
    seen: list[tuple[int, int]] = []
    for pattern, score in ((_TITLE, 0.9), (_ENGLISH_TRIGGER, 0.85), (_ENGLISH_AFTER, 0.85)):
        for m in pattern.finditer(text):
            start = m.start("name")
            words = m.group("name").split()
            while words and words[-1] in _NOT_NAME_WORDS:
                words.pop()
            if not words or words[0] in _NOT_NAME_WORDS or (pattern is not _TITLE and len(words) < 2):
                continue
            end = start + _prefix_len(m.group("name"), len(words))
            if any(start < e and s < end for s, e in seen):
                continue
            seen.append((start, end))
            yield Span(start, end, "person_name", text[start:end], score)


def _prefix_len(name: str, n_words: int) -> int:
    """Length of the first `n_words` whitespace-separated words of `name`, with their spacing."""
    m = re.match(r"\S+(?:\s+\S+){%d}" % (n_words - 1), name)
    return m.end() if m else len(name)
