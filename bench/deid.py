"""PII detection: aicommons' detectors vs Presidio's pattern recognizers, same corpus, same run.

The corpus is generated with a fixed seed: Chinese and English sentences from varied templates,
filled with Faker zh_CN / en_US values (plus aicommons' own fakes where Faker has none), holding
PII of all twelve types, alone and several to a sentence, and hard negatives that must not be
reported: ID numbers, cards and credit codes with wrong check characters, order, tracking and
serial numbers, timestamps, version numbers, non-personal URLs, dates that are not birth dates,
words that start with a surname.

Both systems see every sentence. A prediction is right when it has the gold span's type and
covers it with intersection-over-union >= 0.5. Presidio runs its offline pattern recognizers
(e-mail, IP, URL, phone with CN added to its regions, credit card, date, US passport) through
an AnalyzerEngine with spaCy's blank tokenizer (context words work, no model is loaded); its
entities are renamed to ours, overlaps are resolved the same way as ours, and its score
threshold is the one, of 0.0-0.9, that gives it its best overall F1 on this corpus. Where
Presidio has no recognizer for a type (Chinese ID, credit code, plate, address; person names
need its NER model) its recall there is 0, as the output says.

Throughput is the median of three passes over the corpus, one process, one core, both systems
in the same run.

    python bench/deid.py [--sentences 6000] [--seed 7] [--json FILE]
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers
from faker import Faker

sys.path.insert(0, str(Path(__file__).parent))
from reporting import Figure, arguments, report  # noqa: E402

from aicommons.data.deid import DEFAULT_POLICY, deidentify, detect, residual_scan  # noqa: E402
from aicommons.data.deid import fakes  # noqa: E402
from aicommons.data.deid.detectors import Span, resolve_overlaps  # noqa: E402
from aicommons.data.deid.presidio_bridge import ENTITY_MAP, pattern_analyzer  # noqa: E402

TYPES = [
    "cn_resident_id", "phone", "bank_card", "cn_credit_code", "cn_plate", "passport",
    "email", "ip_address", "url", "birth_date", "person_name", "address",
]
PRESIDIO_TYPES = set(ENTITY_MAP.values())
IOU = 0.5

# --- templates ------------------------------------------------------------------------------------
# {type} is a PII value of that type (a gold span); {neg:kind} is a hard negative (no span).

SINGLE: dict[str, dict[str, list[str]]] = {
    "cn_resident_id": {
        "zh": [
            "我的身份证号码是{cn_resident_id}，请核实。", "身份证：{cn_resident_id}", "请携带证件{cn_resident_id}的原件到窗口办理。",
            "乘客证件号：{cn_resident_id}，座位12A。", "{cn_resident_id}（身份证）已通过实名认证。", "登记信息：{cn_resident_id}，有效期至2030年。",
            "该患者身份证号为{cn_resident_id}，住院号A1023。", "请核对公民身份号码 {cn_resident_id} 与本人是否一致。",
        ],
        "en": [
            "Her PRC resident ID number is {cn_resident_id}.", "ID card: {cn_resident_id}", "Please verify the Chinese ID {cn_resident_id} before check-in.",
            "The applicant provided identity number {cn_resident_id}.", "Scanned document shows {cn_resident_id} on the front.",
        ],
    },
    "phone": {
        "zh": [
            "手机：{phone}", "有问题请拨打{phone}联系我。", "我的电话是{phone}，白天都在。", "联系方式 {phone}", "{phone}（微信同号）",
            "如有疑问致电{phone}。", "到了打{phone}，我下楼拿。", "客户留下的号码为{phone}。", "紧急联系人电话{phone}",
        ],
        "en": [
            "Call me at {phone}.", "Phone: {phone}", "You can reach the tenant on {phone} after 6pm.", "Her mobile number is {phone}.",
            "Contact number {phone} (evenings).", "Leave a message at {phone} and we will call back.", "{phone} is the number on file.",
            "Text {phone} to confirm the booking.",
        ],
    },
    "bank_card": {
        "zh": [
            "银行卡号：{bank_card}", "请将款项转入{bank_card}（工商银行）。", "退款已原路退回至{bank_card}。", "我的信用卡{bank_card}被盗刷了。",
            "绑定的借记卡为{bank_card}。", "收款卡 {bank_card}，请于周五前转账。",
        ],
        "en": [
            "Card number: {bank_card}", "Please charge my Visa {bank_card}.", "The refund went to card {bank_card}.",
            "Payment was made with {bank_card}, expiring 09/27.", "Debit card {bank_card} was reported stolen.",
        ],
    },
    "cn_credit_code": {
        "zh": [
            "统一社会信用代码：{cn_credit_code}", "该公司营业执照号为{cn_credit_code}。", "纳税人识别号{cn_credit_code}，开票请注意。",
            "{cn_credit_code}（统一社会信用代码）", "供应商信用代码 {cn_credit_code} 已备案。", "请核对企业代码{cn_credit_code}是否正确。",
        ],
        "en": [
            "The supplier's unified social credit code is {cn_credit_code}.", "USCC: {cn_credit_code}",
            "Registered under code {cn_credit_code} in Hangzhou.",
        ],
    },
    "cn_plate": {
        "zh": [
            "车牌号{cn_plate}的车主请挪车。", "{cn_plate}在文三路违章停车。", "小区登记车辆：{cn_plate}", "他开着一辆{cn_plate}的白色轿车。",
            "停车场入口识别到{cn_plate}。", "新能源车{cn_plate}充电完成。",
        ],
        "en": [
            "A car with plate {cn_plate} was towed.", "Vehicle {cn_plate} entered the garage at 8am.", "License plate: {cn_plate}",
        ],
    },
    "passport": {
        "zh": ["护照号码：{passport}", "他的护照号是{passport}，有效期十年。", "请提供护照（{passport}）复印件。", "签证申请人护照{passport}。"],
        "en": [
            "Passport number: {passport}", "My passport no. is {passport}.", "Travel document {passport} expires next year.",
            "She showed passport {passport} at the border.",
        ],
    },
    "email": {
        "zh": ["邮箱：{email}", "请发送简历至{email}。", "联系邮箱 {email}", "我的邮箱是{email}，欢迎来信。", "{email}已订阅通知。", "有事发邮件到{email}"],
        "en": [
            "Email me at {email}.", "Contact: {email}", "The invoice was sent to {email} yesterday.",
            "Reply to {email} with your availability.",
        ],
    },
    "ip_address": {
        "zh": [
            "登录IP：{ip_address}", "来自{ip_address}的异常访问已被拦截。", "用户最后登录地址为{ip_address}。",
            "服务器日志显示IP {ip_address} 多次尝试。", "设备{ip_address}离线。",
        ],
        "en": [
            "Login from {ip_address} was blocked.", "IP address: {ip_address}", "The request came from {ip_address} at 3am.",
            "Client {ip_address} exceeded the rate limit.",
        ],
    },
    "url": {
        "zh": ["我的微博主页：{url}", "关注我：{url}", "他的个人主页是{url}。", "作品集见 {url} 。", "简历链接 {url}"],
        "en": ["My profile: {url}", "Follow me at {url}.", "See her work at {url}.", "Personal page: {url}"],
    },
    "birth_date": {
        "zh": [
            "出生日期：{birth_date}", "我的生日是{birth_date}。", "患者出生于{birth_date}，既往体健。", "出生年月日 {birth_date}",
            "她{birth_date}出生，属马。", "该生{birth_date}生，现就读三年级。",
        ],
        "en": [
            "Date of birth: {birth_date}", "DOB {birth_date}", "He was born on {birth_date} in Ohio.",
            "Born {birth_date}, she moved to Hangzhou in 2015.", "My birthday is {birth_date}.",
        ],
    },
    "person_name": {
        "zh": [
            "姓名：{person_name}", "联系人{person_name}，请尽快回复。", "感谢{person_name}先生的帮助。", "{person_name}女士于今天上午办理了入住。",
            "患者{person_name}，女，45岁。", "本合同由{person_name}签署。", "我叫{person_name}，来自杭州。", "经办人：{person_name}",
            "{person_name}的手机号已变更。", "请{person_name}同学到办公室来。",
        ],
        "en": [
            "My name is {person_name}.", "Dear {person_name},", "Patient {person_name} was admitted on Monday.",
            "{person_name} lives in Springfield.", "Please contact {person_name} for details.", "Mr. {person_name} signed the contract.",
            "The form was submitted by {person_name}.", "{person_name}'s phone number changed last week.",
        ],
    },
    "address": {
        "zh": [
            "地址：{address}", "我家住在{address}。", "请将包裹寄到{address}。", "公司位于{address}，欢迎来访。", "收货地址 {address}",
            "{address}发生了一起事故。", "户籍地址为{address}。",
        ],
        "en": [
            "Address: {address}", "She lives at {address}.", "Ship to {address}.", "Our office moved to {address} last month.",
            "The package was delivered to {address}.",
        ],
    },
}

MULTI = {
    "zh": [
        "姓名：{person_name}，身份证号：{cn_resident_id}，手机：{phone}，住址：{address}。",
        "客户{person_name}（{phone}）的银行卡{bank_card}已冻结。",
        "{person_name}，男，{birth_date}出生，邮箱{email}。",
        "车主{person_name}，车牌{cn_plate}，联系电话{phone}。",
        "用户{email}于{neg:timestamp}从{ip_address}登录。",
        "法定代表人{person_name}，统一社会信用代码{cn_credit_code}。",
        "订单{neg:order_no}的收件人是{person_name}，电话{phone}。",
        "申请人{person_name}，护照号{passport}，个人主页{url}。",
    ],
    "en": [
        "Name: {person_name}; DOB: {birth_date}; Phone: {phone}; Email: {email}.",
        "Dear {person_name}, your card {bank_card} will be charged on {neg:other_date}.",
        "Ms. {person_name} (passport {passport}) lives at {address}.",
        "User {email} logged in from {ip_address}; profile {url}.",
        "Order {neg:order_no} ships to {address}; call {phone} on arrival.",
        "Contact {person_name} at {email} or {phone}.",
    ],
}

NEGATIVE = {
    "zh": [
        "订单号：{neg:order_no}，预计明天送达。", "快递单号{neg:tracking_no}已揽收。", "身份证号{neg:bad_id}校验失败，请重新输入。",
        "卡号{neg:bad_card}无效，请检查。", "信用代码{neg:bad_credit_code}有误。", "订单创建时间{neg:timestamp}。", "时间戳{neg:unix_ts}",
        "流水号{neg:serial_no}已入账。", "会议定于{neg:other_date}召开。", "发布日期：{neg:other_date}", "当前版本v{neg:version}，请及时更新。",
        "官网：{neg:plain_url}", "金额合计{neg:amount}元。", "交易号{neg:order_no}，请妥善保存。", "王者荣耀今晚更新。", "高速公路限速120公里。",
        "李子和桃子都熟了。", "黄金价格今天上涨。", "周末愉快！", "江南水乡风景如画。", "马上就到，稍等。", "房间号1203，楼层12。",
        "请在{neg:other_date}前提交材料。", "固件版本{neg:version}修复了若干问题。", "编号{neg:order_no}的工单已关闭。",
    ],
    "en": [
        "Order #{neg:order_no} has shipped.", "Tracking number {neg:tracking_no}.", "Invoice {neg:serial_no} is due on {neg:other_date}.",
        "The meeting is scheduled for {neg:other_date}.", "Running version {neg:version} of the firmware.",
        "Visit {neg:plain_url} for the documentation.", "Timestamp: {neg:timestamp}", "Transaction ID {neg:order_no} was approved.",
        "Card number {neg:bad_card} was rejected as invalid.", "Dear Customer Service Team, thank you.", "Contact Customer Support for help.",
        "Welcome to New York City.", "The build finished at {neg:timestamp} after {neg:unix_ts} ticks.", "Reference {neg:serial_no} is closed.",
        "The ID {neg:bad_id} failed its check digit.",
    ],
}


# Written after the detectors were tuned on the templates above and never used to tune them:
# other phrasings, fewer of the cue words the detectors know. Figures are also shown per set.
HELD_OUT: dict[str, dict[str, list[str]]] = {
    "cn_resident_id": {
        "zh": ["本人证件号码{cn_resident_id}，用于报名。", "实名信息 {cn_resident_id}", "乘车人：{cn_resident_id}", "ID：{cn_resident_id}", "{cn_resident_id}这个号码是我的。"],
        "en": ["Resident identity card no. {cn_resident_id}", "Her ID is {cn_resident_id}.", "Document: {cn_resident_id}"],
    },
    "phone": {
        "zh": ["tel:{phone}", "加我微信或者打我手机{phone}", "回电{phone}", "我的号是{phone}", "有事call我{phone}", "座机{phone}，工作日可接"],
        "en": ["Ring {phone} anytime.", "Tel. {phone}", "Cell: {phone}", "My number's {phone}, text first.", "For bookings dial {phone}."],
    },
    "bank_card": {
        "zh": ["打款到这张卡：{bank_card}，谢谢", "工行 {bank_card} 户名见附件", "完整卡号{bank_card}", "信用卡 {bank_card} 账单已出"],
        "en": ["Charge it to {bank_card} please.", "Full number {bank_card}, not the one ending 4421.", "CC# {bank_card}"],
    },
    "cn_credit_code": {
        "zh": ["社会信用代码为{cn_credit_code}的企业", "代码：{cn_credit_code}（营业执照副本）", "主体代码{cn_credit_code}"],
        "en": ["Company registration code {cn_credit_code}", "China USCC {cn_credit_code}"],
    },
    "cn_plate": {
        "zh": ["挂{cn_plate}牌照的货车", "{cn_plate}，白色大众", "车辆号牌：{cn_plate}", "今天限行，{cn_plate}不能上路"],
        "en": ["Plate no. {cn_plate}", "Spotted {cn_plate} speeding on the ring road."],
    },
    "passport": {
        "zh": ["持{passport}号护照入境", "因私护照 {passport}", "护照信息页显示号码为{passport}"],
        "en": ["PP no. {passport}", "passport # {passport}", "She travels on {passport}."],
    },
    "email": {
        "zh": ["email：{email}", "投稿请寄{email}", "{email}（工作邮箱）"],
        "en": ["Write to {email}", "{email} bounced.", "cc: {email}"],
    },
    "ip_address": {
        "zh": ["源地址{ip_address} 目标端口443", "ping {ip_address} 超时", "节点{ip_address}负载过高"],
        "en": ["Blocked {ip_address} again.", "src={ip_address}", "Ping to {ip_address} failed."],
    },
    "url": {
        "zh": ["我的B站：{url}", "主页戳这里→{url}", "GitHub：{url}"],
        "en": ["Portfolio: {url}", "Find me on {url}", "Check out {url} for my projects."],
    },
    "birth_date": {
        "zh": ["生于{birth_date}", "{birth_date}出生的孩子今年上学", "生日{birth_date}，请勿外传", "出生：{birth_date}"],
        "en": ["b. {birth_date}", "Birthdate {birth_date}", "Date of Birth – {birth_date}", "Born: {birth_date}"],
    },
    "person_name": {
        "zh": ["转交{person_name}", "{person_name}（工号1024）今日请假", "申请人签字：{person_name}", "由{person_name}负责跟进", "值班医生{person_name}",
               "家长{person_name}已确认", "寄件人{person_name}", "@{person_name} 请查收"],
        "en": ["Signed, {person_name}", "Ask {person_name} about the refund.", "{person_name} will join the call.", "Thanks, {person_name}",
               "Meeting with {person_name} at noon.", "cc {person_name}"],
    },
    "address": {
        "zh": ["送货上门：{address}", "地址在{address}，导航可到", "现住{address}", "事发地点：{address}", "{address}（近地铁站）"],
        "en": ["Deliver to: {address}", "{address} is for sale.", "Mailing address - {address}", "We met at {address}."],
    },
}
HELD_OUT_NEGATIVE = {
    "zh": ["第{neg:order_no}号文件已归档。", "股票代码600519今日上涨。", "验证码{neg:code6}，五分钟内有效。", "体温36.5度，正常。",
           "{neg:version}版本更新日志", "生产日期：{neg:other_date}", "截止日期{neg:other_date}", "IP属地：浙江", "支付宝交易号{neg:order_no}"],
    "en": ["ISBN 978-0-306-40615-7", "Call center hours are 9-5.", "Version {neg:version} released {neg:other_date}.", "PO number {neg:order_no}",
           "SKU {neg:serial_no}", "Rooms 1203-1205 are booked.", "Flight CA{neg:code4} departs at {neg:timestamp}."],
}


# --- values ----------------------------------------------------------------------------------------


class Values:
    """Fake PII and hard negatives, from a seeded RNG and seeded Faker instances."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.zh, self.en = Faker("zh_CN"), Faker("en_US")
        self.zh.seed_instance(seed)
        self.en.seed_instance(seed + 1)

    def pii(self, kind: str, lang: str) -> str:
        return getattr(self, kind)(lang)

    # PII
    def cn_resident_id(self, lang: str) -> str:
        if self.rng.random() < 0.1:
            return fakes.fake_cn_resident_id(self.rng, old_format=True)
        return self.zh.ssn()

    def phone(self, lang: str) -> str:
        r = self.rng
        if lang == "zh" or r.random() < 0.15:
            if r.random() < 0.75:
                m = fakes.fake_cn_mobile(r)
                return r.choice([m, m, f"{m[:3]}-{m[3:7]}-{m[7:]}", f"{m[:3]} {m[3:7]} {m[7:]}", f"+86 {m}", f"+86-{m}"])
            return fakes.fake_cn_landline(r, separator=r.choice(["-", "-", " ", "()"]))
        while True:  # only numbers phonenumbers (and so Presidio) considers valid
            number = self.en.phone_number()
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(number, "US")):
                    return number
            except phonenumbers.NumberParseException:
                pass

    def bank_card(self, lang: str) -> str:
        r = self.rng
        kind = r.choice(["unionpay16", "unionpay19", "visa16", "mastercard", "amex"] if lang == "zh" else ["visa16", "mastercard", "amex", "discover", "unionpay16"])
        if kind.startswith("unionpay"):
            number = fakes.fake_bank_card(r, prefix=r.choice(["622202", "622848", "621700", "622588", "623058"]), length=int(kind[-2:]))
        else:
            number = self.en.credit_card_number(kind)
        style = r.random()
        if style < 0.5:
            return number
        sep = " " if style < 0.85 else "-"
        if len(number) == 15:
            return sep.join([number[:4], number[4:10], number[10:]])
        return sep.join(number[i : i + 4] for i in range(0, len(number), 4))

    def cn_credit_code(self, lang: str) -> str:
        return fakes.fake_cn_credit_code(self.rng)

    def cn_plate(self, lang: str) -> str:
        r = self.rng
        if r.random() < 0.15:
            return self.zh.license_plate()  # Faker writes 沪E-08093
        return fakes.fake_cn_plate(r, new_energy=r.random() < 0.3, separator=r.choice(["", "", "", "·", " "]))

    def passport(self, lang: str) -> str:
        if lang == "zh" or self.rng.random() < 0.3:
            return fakes.fake_cn_passport(self.rng)
        return self.en.passport_number()

    def email(self, lang: str) -> str:
        r = self.rng
        if lang == "zh":
            return r.choice([self.zh.email(), self.zh.free_email(), f"{r.randrange(10**5, 10**10)}@qq.com", f"{self.zh.user_name()}@163.com"])
        return r.choice([self.en.email(), self.en.free_email(), self.en.company_email()])

    def ip_address(self, lang: str) -> str:
        r = self.rng.random()
        return self.en.ipv4_public() if r < 0.6 else self.en.ipv4_private() if r < 0.85 else self.en.ipv6()

    def url(self, lang: str) -> str:
        r = self.rng
        user = (self.zh if lang == "zh" else self.en).user_name()
        digits = str(r.randrange(10**6, 10**10))
        first, last = self.en.first_name().lower(), self.en.last_name().lower()
        return r.choice([
            f"https://weibo.com/u/{digits}", f"https://github.com/{user}", f"https://www.zhihu.com/people/{user}",
            f"https://space.bilibili.com/{digits}", f"https://www.linkedin.com/in/{first}-{last}-{digits[:6]}",
            f"https://www.{self.en.domain_name()}/~{user}/", f"https://{self.en.domain_name()}/profile?uid={digits}",
            f"https://medium.com/@{user}", f"https://www.douban.com/people/{user}/", f"https://{user}.github.io",
            f"http://{self.en.domain_name()}/users/{user}/photos",
        ])

    def birth_date(self, lang: str) -> str:
        d = self.en.date_of_birth(minimum_age=1, maximum_age=90)
        if lang == "zh":
            return self.rng.choice([f"{d.year}年{d.month}月{d.day}日", d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d:%Y.%m.%d}"])
        return self.rng.choice([f"{d:%B} {d.day}, {d.year}", f"{d.day} {d:%B} {d.year}", f"{d:%m/%d/%Y}", d.isoformat(), f"{d:%b} {d.day}, {d.year}"])

    def person_name(self, lang: str) -> str:
        if lang == "zh":
            return self.zh.name()
        return f"{self.en.first_name()} {self.en.last_name()}"

    def address(self, lang: str) -> str:
        r = self.rng
        if lang == "zh":
            if r.random() < 0.4:
                return self.zh.address()
            z = self.zh
            road = z.street_name() if r.random() < 0.5 else r.choice(["文三路", "天目山路", "解放大道", "中山北路", "人民路", "建国路", "长江西路"])
            parts = [z.province(), z.city_name() + "市", z.district() + "区"]
            if r.random() < 0.3:
                parts.append(r.choice(["五常街道", "古荡街道", "城关镇", "南庄镇"]))
            parts += [road, f"{r.randrange(1, 999)}号"]
            if r.random() < 0.5:
                parts.append(r.choice(["阳光花园", "东部软件园", "金色家园", "锦绣小区", "星光大厦"]) + f"{r.randrange(1, 30)}幢{r.randrange(1, 30)}0{r.randrange(1, 9)}室")
            return "".join(parts)
        street = self.en.street_address()
        if r.random() < 0.7:
            return f"{street}, {self.en.city()}, {self.en.state_abbr()} {self.en.zipcode()}"
        return street

    # hard negatives
    def negative(self, kind: str, lang: str) -> str:
        r = self.rng
        if kind == "order_no":
            return r.choice([
                f"{self.en.date_between('-2y', 'today'):%Y%m%d}{r.randrange(10**9, 10**10)}",
                str(r.randrange(10**15, 10**19)),
                f"{r.randrange(1, 10)}{r.randrange(10**17, 10**18)}",
            ])
        if kind == "tracking_no":
            return r.choice([f"SF{r.randrange(10**11, 10**12)}", f"YT{r.randrange(10**12, 10**13)}", f"1Z{r.randrange(10**15, 10**16)}"])
        if kind == "bad_id":
            good = self.zh.ssn()
            return good[:17] + r.choice([c for c in "0123456789X" if c != good[17]])
        if kind == "bad_card":
            good = self.en.credit_card_number(r.choice(["visa16", "mastercard"])) if r.random() < 0.5 else fakes.fake_bank_card(r, prefix="6222", length=19)
            return good[:-1] + r.choice([c for c in "0123456789" if c != good[-1]])
        if kind == "bad_credit_code":
            good = fakes.fake_cn_credit_code(r)
            return good[:17] + r.choice([c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != good[17]])
        if kind == "timestamp":
            t = self.en.date_time_between("-3y", "now")
            return r.choice([f"{t:%Y-%m-%d %H:%M:%S}", f"{t:%Y/%m/%d %H:%M}", f"{t:%Y-%m-%dT%H:%M:%SZ}", f"{t:%Y%m%d%H%M%S}"])
        if kind == "unix_ts":
            return str(r.randrange(1_500_000_000, 1_750_000_000)) + (str(r.randrange(100, 1000)) if r.random() < 0.5 else "")
        if kind == "serial_no":
            return r.choice([f"INV-{r.randrange(2019, 2025)}-{r.randrange(10**5):06d}", str(r.randrange(10**11, 10**12)), f"NO.{r.randrange(10**7, 10**8)}"])
        if kind == "other_date":
            d = self.en.date_between("-2y", "+1y")
            return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else r.choice([f"{d:%B} {d.day}, {d.year}", d.isoformat(), f"{d:%m/%d/%Y}"])
        if kind == "version":
            return ".".join(str(r.randrange(0, 20)) for _ in range(r.choice([3, 4, 4])))
        if kind == "plain_url":
            return r.choice([
                "https://www.zj.gov.cn/col/col1229019364/index.html", "https://docs.python.org/3/library/re.html",
                self.en.url(), "https://github.com/features", "www.hangzhou.gov.cn/art/2024/1/5/art_1229063382.html",
                "https://www.example.com/about/", f"https://news.{self.en.domain_name()}/2024/05/{r.randrange(1000, 9999)}.html",
            ])
        if kind == "code6":
            return f"{r.randrange(10**6):06d}"
        if kind == "code4":
            return str(r.randrange(100, 10000))
        if kind == "amount":
            return f"{r.randrange(1000, 10**7):,}.{r.randrange(100):02d}"
        raise ValueError(kind)


# --- the corpus -----------------------------------------------------------------------------------------


@dataclass
class Sentence:
    text: str
    lang: str
    kind: str  # single | multi | negative
    template_set: str  # dev | held-out
    gold: list[tuple[int, int, str]] = field(default_factory=list)


_SLOT = re.compile(r"\{(neg:)?(\w+)\}")


def render(template: str, values: Values, lang: str, kind: str, template_set: str = "dev") -> Sentence:
    parts: list[str] = []
    gold: list[tuple[int, int, str]] = []
    pos = last = 0
    for m in _SLOT.finditer(template):
        literal = template[last : m.start()]
        parts.append(literal)
        pos += len(literal)
        if m.group(1):
            value = values.negative(m.group(2), lang)
        else:
            value = values.pii(m.group(2), lang)
            gold.append((pos, pos + len(value), m.group(2)))
        parts.append(value)
        pos += len(value)
        last = m.end()
    parts.append(template[last:])
    return Sentence("".join(parts), lang, kind, template_set, gold)


def build_corpus(n: int, seed: int) -> list[Sentence]:
    """`n` sentences: 75% with one PII value (all types, both languages), 10% with several, 15%
    hard negatives; a third of the single-value and negative sentences use the held-out templates."""
    values = Values(seed)
    rng = values.rng
    n_negative, n_multi = int(n * 0.15), int(n * 0.10)
    n_single = n - n_negative - n_multi
    corpus: list[Sentence] = []
    per_type = n_single // len(TYPES)
    for i, kind in enumerate(TYPES):
        count = per_type + (1 if i < n_single % len(TYPES) else 0)
        zh_share = 0.7 if kind.startswith("cn_") else 0.5
        for _ in range(count):
            lang = "zh" if rng.random() < zh_share else "en"
            template_set = "held-out" if rng.random() < 1 / 3 else "dev"
            templates = (HELD_OUT if template_set == "held-out" else SINGLE)[kind][lang]
            corpus.append(render(rng.choice(templates), values, lang, "single", template_set))
    for _ in range(n_multi):
        lang = rng.choice(["zh", "en"])
        corpus.append(render(rng.choice(MULTI[lang]), values, lang, "multi"))
    for _ in range(n_negative):
        lang = rng.choice(["zh", "en"])
        template_set = "held-out" if rng.random() < 1 / 3 else "dev"
        templates = (HELD_OUT_NEGATIVE if template_set == "held-out" else NEGATIVE)[lang]
        corpus.append(render(rng.choice(templates), values, lang, "negative", template_set))
    rng.shuffle(corpus)
    return corpus


# --- scoring ------------------------------------------------------------------------------------------------


@dataclass
class Tally:
    tp: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)

    def add(self, gold: Sequence[tuple[int, int, str]], predicted: Sequence[Span]) -> None:
        used: set[int] = set()
        for start, end, kind in gold:
            best, best_iou = None, 0.0
            for i, p in enumerate(predicted):
                if i in used or p.type != kind:
                    continue
                inter = min(end, p.end) - max(start, p.start)
                iou = inter / (max(end, p.end) - min(start, p.start)) if inter > 0 else 0.0
                if iou >= IOU and iou > best_iou:
                    best, best_iou = i, iou
            if best is None:
                self.fn[kind] += 1
            else:
                used.add(best)
                self.tp[kind] += 1
        for i, p in enumerate(predicted):
            if i not in used:
                self.fp[p.type] += 1

    def prf(self, types: Sequence[str]) -> tuple[float, float, float]:
        tp = sum(self.tp[t] for t in types)
        fp = sum(self.fp[t] for t in types)
        fn = sum(self.fn[t] for t in types)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(system: Callable[[str], list[Span]], corpus: Sequence[Sentence], repeats: int = 3) -> tuple[list[list[Span]], float]:
    """Predictions for every sentence, and the median throughput of `repeats` passes (sentences/s)."""
    for s in corpus[:50]:  # warm caches, compiled patterns, lazy imports
        system(s.text)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictions = [system(s.text) for s in corpus]
        rates.append(len(corpus) / (time.perf_counter() - start))
    return predictions, statistics.median(rates)


def tally(corpus: Sequence[Sentence], predictions: Sequence[Sequence[Span]], threshold: float = 0.0) -> Tally:
    t = Tally()
    for sentence, predicted in zip(corpus, predictions):
        t.add(sentence.gold, resolve_overlaps(p for p in predicted if p.score >= threshold))
    return t


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    corpus = build_corpus(args.sentences, args.seed)
    gold_counts = Counter(kind for s in corpus for *_, kind in s.gold)
    langs = Counter(s.lang for s in corpus)
    kinds = Counter(s.kind for s in corpus)
    print(
        f"corpus: {len(corpus)} sentences ({langs['zh']} Chinese, {langs['en']} English; {kinds['single']} with one PII value, "
        f"{kinds['multi']} with several, {kinds['negative']} hard negatives), {sum(gold_counts.values())} gold spans, seed {args.seed}"
    )
    print("gold spans per type: " + ", ".join(f"{t} {gold_counts[t]}" for t in TYPES))

    ours, ours_rate = run(lambda text: detect(text), corpus)
    ours_tally = tally(corpus, ours)

    analyzer = pattern_analyzer()
    mapping = dict(ENTITY_MAP)

    def presidio(text: str) -> list[Span]:
        results = analyzer.analyze(text=text, language="en", entities=list(mapping), score_threshold=0.0)
        return [Span(r.start, r.end, mapping[r.entity_type], text[r.start : r.end], float(r.score)) for r in results]

    peer, peer_rate = run(presidio, corpus)
    sweep = {th: tally(corpus, peer, th) for th in [x / 10 for x in range(10)]}
    best_threshold = max(sweep, key=lambda th: (sweep[th].prf(TYPES)[2], -th))
    peer_tally = sweep[best_threshold]
    print("Presidio score threshold sweep (overall F1): " + ", ".join(f"{th:.1f}: {sweep[th].prf(TYPES)[2]:.3f}" for th in sweep) + f" -> using {best_threshold:.1f}")

    figures: list[Figure] = []
    for t in TYPES:
        (op, orr, of1), (pp, pr, pf1) = ours_tally.prf([t]), peer_tally.prf([t])
        figures += [
            Figure(f"{t} precision", "ratio", op, pp, ">= 0.8"),
            Figure(f"{t} recall", "ratio", orr, pr, ">= 0.8"),
            Figure(f"{t} F1", "ratio", of1, pf1, ">= 0.8"),
        ]
    (op, orr, of1), (pp, pr, pf1) = ours_tally.prf(TYPES), peer_tally.prf(TYPES)
    figures += [
        Figure("overall precision (12 types, micro)", "ratio", op, pp, ">= 0.9"),
        Figure("overall recall (12 types, micro)", "ratio", orr, pr, ">= 0.9"),
        Figure("overall F1 (12 types, micro)", "ratio", of1, pf1, ">= 0.9"),
    ]
    for template_set in ("dev", "held-out"):
        index = [i for i, sentence in enumerate(corpus) if sentence.template_set == template_set]
        subset = [corpus[i] for i in index]
        ours_f1 = tally(subset, [ours[i] for i in index]).prf(TYPES)[2]
        peer_f1 = tally(subset, [peer[i] for i in index], best_threshold).prf(TYPES)[2]
        figures.append(Figure(f"overall F1, {template_set} templates ({len(index)} sentences)", "ratio", ours_f1, peer_f1, ">= 0.9"))
    covered = [t for t in TYPES if t in PRESIDIO_TYPES]
    figures.append(Figure(f"F1 on the {len(covered)} types Presidio covers", "ratio", ours_tally.prf(covered)[2], peer_tally.prf(covered)[2], ">= 0.9"))
    figures.append(Figure("throughput (detect all types)", "sentences/s", ours_rate, peer_rate, ">= 1000"))
    report("PII detection: aicommons vs Presidio (pattern recognizers, no NLP model)", "presidio", figures, args.json)

    missing = [t for t in TYPES if t not in PRESIDIO_TYPES]
    print(
        f"Presidio has no offline recognizer for {', '.join(missing)} (person names need its spaCy NER model): "
        "its recall there counts as 0 and its precision as 0."
    )
    fp_on_negatives = Counter(p.type for s, ps in zip(corpus, ours) if s.kind == "negative" for p in ps)
    peer_fp_on_negatives = Counter(
        p.type for s, ps in zip(corpus, peer) if s.kind == "negative" for p in resolve_overlaps(x for x in ps if x.score >= best_threshold)
    )
    print(f"reports on the {kinds['negative']} hard-negative sentences: aicommons {sum(fp_on_negatives.values())} {dict(fp_on_negatives)}; "
          f"presidio {sum(peer_fp_on_negatives.values())} {dict(peer_fp_on_negatives)}")

    # De-identify the whole corpus with the default policy, then rerun the detectors on the output.
    start = time.perf_counter()
    results = [deidentify(s.text, DEFAULT_POLICY, b"bench-secret") for s in corpus]
    deid_rate = len(corpus) / (time.perf_counter() - start)
    residual = [r for res in results for r in residual_scan(res, DEFAULT_POLICY)]
    print(f"deidentify (default policy): {deid_rate:,.0f} sentences/s; residual scan on the output: {len(residual)} spans"
          + (f" {Counter(r.type for r in residual)}" if residual else ""))


if __name__ == "__main__":
    main()
